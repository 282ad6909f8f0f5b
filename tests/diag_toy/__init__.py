"""A registry (HARNESS_REGISTRY=tests.diag_toy) holding the toy paper with a budget curve and a declared
diagnosis, so `python -m harness diagnose` can be tested end to end in seconds."""

PAPERS = ("tests.diag_toy.paper",)
