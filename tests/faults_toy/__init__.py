"""A registry for the fault tests (HARNESS_REGISTRY=tests.faults_toy): the toy paper, and a paper that reads
MNIST through harness.data, so data-directory faults (absent, incomplete, fallback) are tested in seconds."""

PAPERS = ("tests.toy.paper", "tests.faults_toy.paper")
