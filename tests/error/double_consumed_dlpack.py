# expect: ValueError
# match: consumed
# requires: hyflow.from_dlpack
# A DLPack capsule hands over ownership once; a second from_dlpack on it must not alias freed memory.
import hyflow as hy

capsule = hy.ones(3).__dlpack__()
hy.from_dlpack(capsule)
hy.from_dlpack(capsule)
