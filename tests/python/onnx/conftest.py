import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # opinfo and test_ops live in tests/python
