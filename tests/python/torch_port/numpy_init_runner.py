"""Run a ported PyTorch script unchanged, with its layers' initial weights drawn from NumPy.

    python numpy_init_runner.py torch|hyflow script.py [the script's arguments]

torch and hyflow draw different random numbers for the same seed (hyflow's generator is counter-based
Philox, torch's CPU one a Mersenne twister), so a script that seeds torch and lets its layers initialize
themselves starts from other weights under each. To compare the two runs to rounding error, this runner
replaces the reset_parameters of the layers the ported scripts use by one drawing from a single seeded NumPy
stream, with the distributions torch documents for them, in the order the script builds the layers. The
script itself is not touched: it runs as __main__ (runpy) with sys.argv set to its own arguments.
"""
import importlib
import math
import runpy
import sys

import numpy as np

# layer class -> the bound b of its U(-b, b) initialization, as torch.nn documents it
BOUNDS = {
    "LSTMCell": lambda layer: 1.0 / math.sqrt(layer.hidden_size),  # every weight and bias
    "Linear": lambda layer: 1.0 / math.sqrt(layer.in_features),  # kaiming_uniform_(a=sqrt(5)) and the bias
}


def draw_initial_weights_from(framework, rng):
    for class_name, bound_of in BOUNDS.items():
        def reset_parameters(self, *args, _bound_of=bound_of, **kwargs):
            bound = _bound_of(self)
            with framework.no_grad():
                for _, p in sorted(self.named_parameters(recurse=False), key=lambda item: item[0]):
                    values = rng.uniform(-bound, bound, size=tuple(p.shape))
                    p.copy_(framework.from_numpy(values).to(p.dtype))
        getattr(framework.nn, class_name).reset_parameters = reset_parameters


def main():
    framework_name, script, script_args = sys.argv[1], sys.argv[2], sys.argv[3:]
    framework = importlib.import_module(framework_name)
    importlib.import_module(framework_name + ".nn")
    draw_initial_weights_from(framework, np.random.RandomState(0))
    sys.argv = [script] + script_args
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
