"""The registry: one line per paper, in publication order (see harness/registry.py)."""

PAPERS = (
    "reproductions.backprop.paper",  # Rumelhart, Hinton & Williams 1986
    "reproductions.lstm.paper",  # Hochreiter & Schmidhuber 1997
    "reproductions.alexnet.paper",  # Krizhevsky, Sutskever & Hinton 2012
    "reproductions.resnet.paper",  # He, Zhang, Ren & Sun 2015
    "reproductions.vit.paper",  # Dosovitskiy et al. 2020
)
