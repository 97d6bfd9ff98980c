#!/usr/bin/env python3
"""Prices European options with the "blackscholes" function of coloc's
example library (faas_examples.so) on the workers of a lease, and checks
the prices against the same formula computed here.

    FAAS_LEASE=lease.json python3 blackscholes.py [--options N] [--seed S]

The input of "blackscholes" is an array of 48-byte options (five doubles:
spot, strike, rate, volatility, time; an int32 type, 0 call or 1 put; an
int32 pad), the output one double per option. With NumPy the options are a
structured array, sent in chunks without a copy, and the prices land
straight in a float64 array (out=); without NumPy the same runs on bytes.
Exits 0 when every price matches to 1e-9 (relative), 1 otherwise.
"""

import argparse
import math
import random
import struct
import sys

import coloc

try:
    import numpy as np
except ImportError:
    np = None

OPTION = struct.Struct("=5dii")  # struct bs_option, 48 bytes


def cndf(x):
    """PARSEC's CNDF: the cumulative normal distribution (polynomial
    approximation), as the function computes it."""
    sign = x < 0.0
    x = abs(x)
    n_prime = math.exp(-0.5 * x * x) * 0.39894228040143270286
    k = 1.0 / (1.0 + 0.2316419 * x)
    poly = k * (0.319381530 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429))))
    out = 1.0 - poly * n_prime
    return 1.0 - out if sign else out


def price(spot, strike, rate, vol, t, kind):
    """The price of one European option, without dividends."""
    den = vol * math.sqrt(t)
    d1 = ((rate + 0.5 * vol * vol) * t + math.log(spot / strike)) / den
    d2 = d1 - den
    fv = strike * math.exp(-rate * t)
    if kind == 0:
        return spot * cndf(d1) - fv * cndf(d2)
    return fv * (1.0 - cndf(d2)) - spot * (1.0 - cndf(d1))


def make_options(n, seed):
    """n random options (spot 10..200, strike 0.5..1.5 spot, ...) as tuples."""
    rnd = random.Random(seed)
    opts = []
    for _ in range(n):
        spot = rnd.uniform(10.0, 200.0)
        opts.append((spot, spot * rnd.uniform(0.5, 1.5), rnd.uniform(0.01, 0.1),
                     rnd.uniform(0.05, 0.65), rnd.uniform(0.05, 3.0), rnd.randint(0, 1), 0))
    return opts


def price_remote_numpy(client, opts):
    """NumPy: one structured array in, one float64 array out, no copies."""
    dtype = np.dtype([("spot", "f8"), ("strike", "f8"), ("rate", "f8"), ("volatility", "f8"),
                      ("time", "f8"), ("type", "i4"), ("pad", "i4")])
    assert dtype.itemsize == OPTION.size
    options = np.array(opts, dtype=dtype)
    prices = np.empty(len(options), dtype=np.float64)
    chunk = client.lease.max_payload // dtype.itemsize
    bs = client.function("blackscholes")
    futures = [bs.submit(options[i:i + chunk], out=prices[i:i + chunk])
               for i in range(0, len(options), chunk)]
    for f in futures:
        f.result()  # raises coloc.FaasError if that chunk failed
    return prices.tolist()


def price_remote_bytes(client, opts):
    """Without NumPy: bytes in, bytes out, chunks through map()."""
    chunk = client.lease.max_payload // OPTION.size
    chunks = [b"".join(OPTION.pack(*o) for o in opts[i:i + chunk]) for i in range(0, len(opts), chunk)]
    prices = []
    for out in client.map("blackscholes", chunks):
        prices.extend(struct.unpack("=%dd" % (len(out) // 8), out))
    return prices


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--options", type=int, default=100000, help="how many options (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="of the random options (default 1)")
    ap.add_argument("--no-numpy", action="store_true", help="use bytes even where NumPy is installed")
    args = ap.parse_args()
    if args.options < 1:
        ap.error("--options must be at least 1")

    opts = make_options(args.options, args.seed)
    try:
        with coloc.Client() as client:  # the lease from FAAS_LEASE
            if np is not None and not args.no_numpy:
                remote = price_remote_numpy(client, opts)
            else:
                remote = price_remote_bytes(client, opts)
    except coloc.FaasError as e:
        print("blackscholes: %s (%s)" % (e, e.name), file=sys.stderr)
        return 1
    worst = max(abs(r - price(*o[:6])) / max(1.0, abs(r)) for r, o in zip(remote, opts))
    print("blackscholes: %d options priced remotely (%s), largest relative difference %.3g"
          % (len(remote), "numpy" if np is not None and not args.no_numpy else "bytes", worst))
    return 0 if len(remote) == len(opts) and worst <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
