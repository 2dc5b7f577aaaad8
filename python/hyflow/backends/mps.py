"""``torch.backends.mps``'s queries: hyflow has no Metal (Apple GPU) backend, so both answer False."""


def is_available():
    return False


def is_built():
    return False
