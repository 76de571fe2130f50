"""The NLU evaluation: held-out report and cross-validation of the Rasa model, in rooms.

The command lines are ``python -m scripts.nlu_report`` and ``python -m scripts.nlu_cv``
(and ``python -m bench.nlu_latency``); they only read options and call in here. Imports
point one way, from the runs down to the data:

- ``errors``: :class:`ReportError`, a report or run that cannot be produced;
- ``data``: Rasa NLU YAML (examples, entities, synonyms), held-out groups by language;
- ``metrics``: macro-F1, entities, fallbacks, the bot's decisions, language id, per group;
- ``targets``: the goals ``--check`` holds the Rasa model to;
- ``baselines``: the ``tfidf_lr`` and ``keywords`` baselines, the language identifier;
- ``rasa_server``: ``rasa train nlu`` and ``rasa run`` as subprocesses on loopback;
- ``latency``: parse latency percentiles through the bot's ``RasaClient``;
- ``render``: ``report.md``, ``report.json``, ``errors.json``, the confusion matrix;
- ``report``: one held-out report run, from the data to the files;
- ``folds``: the training document, stratified folds, examples added since a revision;
- ``variants``: a Rasa config with ``--set`` overrides and ``--drop`` components;
- ``cv_scores``: pooled cross-validation scores, the mix, misreadings, the summary table;
- ``cv``: one cross-validation (or fresh dev set) run.
"""
