# expect: ValueError
# match: not writable
# from_numpy shares memory, so a read-only array is refused up front (with the copying alternatives
# named) rather than handing out a tensor whose in-place ops would write into read-only memory.
import numpy as np

import hyflow as hy

a = np.arange(4.0)
a.flags.writeable = False
hy.from_numpy(a)
