"""Understanding text: the Rasa client, keywords, language id, the real model."""
