"""A toy registry (HARNESS_REGISTRY=tests.toy) so the CLI can be tested end to end in seconds."""

PAPERS = ("tests.toy.paper",)
