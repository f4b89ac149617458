# Writes the NumPy-side .npy/.npz files read by tests/nn/npy_test.cpp: every dtype kiln
# reads (and a few it rejects), Fortran order, big-endian, 0-d, empty, format versions
# 2.0 and 3.0, np.savez and np.savez_compressed. The test hard-codes the same values.
# Run: /usr/bin/python3 tests/reference/gen_npy.py   (numpy 1.24)
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "npy")


def save(name, array):
    np.save(os.path.join(OUT, name), array)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(os.path.join(OUT, name))

    # dtypes kiln has: np.save's bytes must equal kiln's write_npy of the same values.
    save("bool.npy", np.array([[True, False, True], [False, False, True]]))
    save("uint8.npy", np.array([0, 1, 127, 128, 255], dtype=np.uint8))
    save("int64.npy", np.array([[np.iinfo(np.int64).min, -1, 0], [1, 2, np.iinfo(np.int64).max]], dtype=np.int64))
    save("float32.npy", np.array([[1.5, -0.0, np.inf], [np.nan, 1e-40, 3.25]], dtype=np.float32))
    save("float64.npy", np.array([0.1, -np.inf, 1e308, 5e-324], dtype=np.float64))
    save("float64_3d.npy", (np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 10) / 4)
    save("scalar.npy", np.array(3.5))
    save("empty.npy", np.zeros((0, 3), dtype=np.float32))
    save("float16.npy", np.array([1.0, -2.5, 65504, 6e-8, np.inf, np.nan], dtype=np.float16))

    # Narrower integers, widened to int64 by kiln.
    save("int8.npy", np.array([-128, -1, 0, 127], dtype=np.int8))
    save("int16.npy", np.array([-32768, -2, 32767], dtype=np.int16))
    save("int32.npy", np.array([[-2147483648, 7], [70000, 2147483647]], dtype=np.int32))
    save("uint16.npy", np.array([0, 65535], dtype=np.uint16))
    save("uint32.npy", np.array([0, 4294967295], dtype=np.uint32))

    # Layouts and byte orders.
    save("fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    save("fortran_3d.npy", np.asfortranarray(np.arange(24, dtype=np.int64).reshape(2, 3, 4)))
    save("big_f8.npy", np.array([-1.0, -0.5, 0.0, 0.5], dtype=">f8"))
    save("big_f2.npy", np.array([-1.0, 0.5, 65504], dtype=">f2"))
    save("big_i4.npy", np.array([-2, 1, 70000], dtype=">i4"))
    save("big_i8.npy", np.array([[-3, 5]], dtype=">i8"))
    save("empty_1d_i8.npy", np.zeros(0, dtype=np.int64))
    save("scalar_bool.npy", np.array(True))
    for version in [(2, 0), (3, 0)]:
        with open(os.path.join(OUT, "version%d.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, np.array([1.0, 2.0, 3.0], dtype=np.float32), version=version)

    # dtypes kiln rejects.
    save("complex64.npy", np.array([1 + 2j], dtype=np.complex64))
    save("unicode.npy", np.array(["abc"], dtype="<U5"))
    save("longdouble.npy", np.array([1.0], dtype=np.longdouble))
    save("uint64.npy", np.array([1], dtype=np.uint64))

    # Archives: keyword arrays, then a positional one (arr_0), the order np.savez stores them in.
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3) / 2, ]
    named = {
        "labels": np.array([3, -1, 4], dtype=np.int64),
        "mask": np.array([True, False]),
        "scalar": np.array(2.25),
        "empty": np.zeros((2, 0), dtype=np.uint8),
    }
    np.savez(os.path.join(OUT, "savez.npz"), *arrays, **named)
    np.savez_compressed(os.path.join(OUT, "savez_compressed.npz"), *arrays, **named)
    # An entry kiln widens, compressed.
    np.savez_compressed(os.path.join(OUT, "int32.npz"), counts=np.array([1, -2, 3], dtype=np.int32))


if __name__ == "__main__":
    main()
