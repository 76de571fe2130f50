"""Custom Rasa components of the Kunnafoni NLU pipeline (loaded by ``nlu/config.yml``)."""
