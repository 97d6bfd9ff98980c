#!/usr/bin/env python3
"""Prices Black-Scholes options on this core only: the "blackscholes"
function of the example library (faas_examples.so), called in-process
through ctypes, chunk by chunk as the executor would, timed. The options are
the client's (bs_generate of blackscholes_kernel.h, seed 1) for the first
65536, repeated to fill N (pricing cost does not depend on the order). The
first --check prices are compared bit for bit with the same formula
evaluated here (libm's exp/log/sqrt, no fused multiply-add), outside the
timed region. With --wait-busy FILE, it first waits for FILE to name a pid
and for that process (a faas-executor) to start using CPU, so that a hybrid
run starts its local share when the remote calls start. Prints one JSON
object: options, seconds, options_per_s, t_start, t_end (epoch seconds),
checked, mismatches."""
import argparse, ctypes, json, math, os, struct, sys, time

M64 = (1 << 64) - 1


def splitmix(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def generate(n, seed):
    st, out = seed, []
    for _ in range(n):
        st, r = splitmix(st); spot_c = 1000 + r % 19001
        st, r = splitmix(st); strike_c = spot_c * (5000 + r % 10001) // 10000
        st, r = splitmix(st); rate = (100 + r % 901) / 10000.0
        st, r = splitmix(st); vol = (500 + r % 6001) / 10000.0
        st, r = splitmix(st); t = (50 + r % 2951) / 1000.0
        st, r = splitmix(st); typ = 1 if r >> 63 else 0
        out.append((spot_c / 100.0, strike_c / 100.0, rate, vol, t, typ))
    return out


def cndf(x):
    sign = x < 0.0
    if sign:
        x = -x
    n_prime = math.exp(-0.5 * x * x) * 0.39894228040143270286
    k = 1.0 / (1.0 + 0.2316419 * x)
    k2 = k * k; k3 = k2 * k; k4 = k3 * k; k5 = k4 * k
    l1 = k * 0.319381530
    l2 = k2 * (-0.356563782)
    l2 = l2 + k3 * 1.781477937
    l2 = l2 + k4 * (-1.821255978)
    l2 = l2 + k5 * 1.330274429
    out = 1.0 - (l2 + l1) * n_prime
    return 1.0 - out if sign else out


def price(o):
    spot, strike, rate, vol, t, typ = o
    sqrt_t = math.sqrt(t)
    log_term = math.log(spot / strike)
    d1 = ((rate + vol * vol * 0.5) * t + log_term) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    nd1, nd2 = cndf(d1), cndf(d2)
    fv = strike * math.exp(-rate * t)
    if typ == 0:
        return spot * nd1 - fv * nd2
    return fv * (1.0 - nd2) - spot * (1.0 - nd1)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_busy(pidfile, timeout=60.0):
    end = time.monotonic() + timeout
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
        if time.monotonic() > end:
            sys.exit("bs_local: no pid in %s" % pidfile)
        time.sleep(0.005)
    pid = int(open(pidfile).read().split()[0])
    # idle first (its workers block after 100 ms without a call), then busy
    base, since = cpu_ticks(pid), time.monotonic()
    while time.monotonic() - since < 0.2:
        time.sleep(0.002)
        t = cpu_ticks(pid)
        if t != base:
            base, since = t, time.monotonic()
        if time.monotonic() > end:
            sys.exit("bs_local: pid %d never idle" % pid)
    while cpu_ticks(pid) == base:
        time.sleep(0.001)
        if time.monotonic() > end:
            sys.exit("bs_local: pid %d never busy" % pid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--options", type=int, required=True)
    ap.add_argument("--chunk", type=int, default=1364)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", type=int, default=2048)
    ap.add_argument("--wait-busy")
    a = ap.parse_args()
    lib = ctypes.CDLL(a.lib)
    fn = lib.blackscholes
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
                   ctypes.POINTER(ctypes.c_size_t)]
    base = generate(min(a.options, 65536), a.seed)
    raw = b"".join(struct.pack("=5dii", *o, 0) for o in base)
    reps = -(-a.options // len(base))
    buf = ctypes.create_string_buffer((raw * reps)[: a.options * 48], a.options * 48)
    out = (ctypes.c_double * a.options)()
    olen = ctypes.c_size_t()
    addr_in, addr_out = ctypes.addressof(buf), ctypes.addressof(out)
    if a.wait_busy:
        wait_busy(a.wait_busy)
    t_start = time.time()
    t0 = time.perf_counter()
    for first in range(0, a.options, a.chunk):
        n = min(a.chunk, a.options - first)
        if fn(addr_in + first * 48, n * 48, addr_out + first * 8, n * 8, ctypes.byref(olen)):
            sys.exit("bs_local: blackscholes failed on options %d.." % first)
    secs = time.perf_counter() - t0
    t_end = time.time()
    k = min(a.check, a.options)
    bad = sum(1 for i in range(k) if struct.pack("d", out[i]) != struct.pack("d", price(base[i % len(base)])))
    print(json.dumps({"options": a.options, "seconds": round(secs, 6),
                      "options_per_s": round(a.options / secs, 1), "t_start": t_start,
                      "t_end": t_end, "checked": k, "mismatches": bad}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
