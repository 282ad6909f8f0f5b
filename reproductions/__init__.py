"""The registry: one line per paper, in publication order (see harness/registry.py)."""

PAPERS = (
    "reproductions.backprop.paper",  # Rumelhart, Hinton & Williams 1986
    "reproductions.lstm.paper",  # Hochreiter & Schmidhuber 1997
    "reproductions.alexnet.paper",  # Krizhevsky, Sutskever & Hinton 2012
    "reproductions.gan.paper",  # Goodfellow et al. 2014
    "reproductions.resnet.paper",  # He, Zhang, Ren & Sun 2015
    "reproductions.ddpm.paper",  # Ho, Jain & Abbeel 2020 (June)
    "reproductions.vit.paper",  # Dosovitskiy et al. 2020 (October)
)
