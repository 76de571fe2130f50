"""Developer tools, run from the repository root as modules: ``python -m scripts.<name>``.

``nlu_report`` and ``nlu_cv`` are the command lines of the NLU evaluation; the work is done
in the ``scripts.nlu_eval`` package.
"""
