# expect: TypeError
# match: exp\(\): argument 'self' is complex64, and exp does not support complex dtypes
# A real-only op given a complex tensor (an FFT result) names itself, the argument and the dtype.
import hyflow as hy

spectrum = hy.fft.rfft(hy.ones(8))
hy.exp(spectrum)
