"""Recognizing checkpoint files hy.save/hy.load do not speak (PyTorch pickles), to say what they are.

hy.load reads safetensors only and never unpickles: loading a pickle can run arbitrary code. A PyTorch user's
first ``hy.load("model.pt")`` would otherwise report a nonsense header length; these helpers name the format
and the one-time conversion instead, and warn when hy.save is given a name PyTorch users read as a pickle.
"""
import os
import warnings
import zipfile

__all__ = []

# torch.save's legacy (pre-1.6) format starts with a pickled magic number: protocol 2, LONG1 of 10 bytes.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_PICKLE_SUFFIXES = (".pt", ".pth")

CONVERT_HINT = ("convert it once with PyTorch: `sd = torch.load(path, weights_only=True)` then "
                "`safetensors.torch.save_file(sd, 'model.safetensors')` and hy.load that file; or pass the "
                "torch state dict straight to `model.load_state_dict(sd)`, which accepts torch tensors")


def describe_foreign(f, path):
    """A description of the file open in ``f`` when it is a known non-safetensors format, else None."""
    f.seek(0)
    head = f.read(len(_TORCH_LEGACY_MAGIC))
    if head.startswith(b"PK\x03\x04"):
        try:
            f.seek(0)
            names = zipfile.ZipFile(f).namelist()
        except (zipfile.BadZipFile, OSError):
            return "a zip archive (not a safetensors file)"
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "a PyTorch checkpoint (torch.save's zip format, a pickle in data.pkl)"
        return "a zip archive (not a safetensors file)"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return "a PyTorch checkpoint (torch.save's legacy pickle format)"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"a Python pickle (protocol {head[1]}), e.g. from torch.save(..., _use_new_zipfile_serialization=False)"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy file (load it with numpy.load, then hy.from_numpy)"
    return None


def warn_if_pickle_suffix(path):
    """hy.save writes safetensors whatever the name; a .pt/.pth name makes PyTorch users reach for torch.load."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix in _PICKLE_SUFFIXES:
        warnings.warn(f"hy.save writes the safetensors format, but {path!r} has the suffix {suffix!r} of PyTorch "
                      f"pickles (torch.load cannot read it; safetensors.torch.load_file and hy.load can). "
                      f"Name it '.safetensors' to avoid the confusion.", UserWarning, stacklevel=3)
