"""A registry for the Ray executor tests (HARNESS_REGISTRY=tests.ray_toy): the toy paper, and `killtoy`, whose
seed runs can kill their own worker once or take a while, so worker and driver faults are tested in seconds."""

PAPERS = ("tests.toy.paper", "tests.ray_toy.paper")
