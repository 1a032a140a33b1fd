#!/usr/bin/env python3
"""Mutation check: plant plausible bugs one at a time and see whether the tests catch them.

Each catalogue entry names a file, one or more exact snippets of its current text (found by
content, never by line number; the script stops if a snippet is missing or occurs more than
once), their replacements, and the test suites that should catch it (cmake targets and ctest
regex). For each entry the script plants the bug in place, rebuilds the entry's suites in the
build directory given by --build (configured Release, CUDA off, ccache, on first use) one suite
at a time until one fails, restores the file (try/finally, also on Ctrl-C) and records the first
failing test. It ends with a
markdown table: id | file | bug | caught by | caught.

Not part of CI (minutes per entry). Examples:
  scripts/mutation_check.py --list
  scripts/mutation_check.py --only grad_nll_sum,kto_unpaired_rejected_sum
  scripts/mutation_check.py                       # the whole catalogue
The sources are restored after each entry, but the test executables in the build directory are
left as the last mutant built them: rebuild before using that directory for anything else, and do
not build from the same source tree while the script runs (a parallel build would compile the
planted bug).
Exit status: 0 when every entry run was caught, 1 when one was not, 2 on a setup error (missing
or ambiguous snippet, a baseline failure, a file left modified).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Test executables (cmake targets) and the ctest regexes that select their tests.
LOSSES = (["prefopt_tests_losses"], r"^prefopt_tests_losses:")
BACKENDS = (["prefopt_tests_backends"], r"^prefopt_tests_backends:")
CORE = (["prefopt_tests_core"], r"^prefopt_tests_core:")
KL = (["prefopt_tests_kl"], r"^prefopt_tests_kl:")
PREFMODEL = (["prefopt_tests_prefmodel"], r"^prefopt_tests_prefmodel:")
GAME = (["prefopt_tests_game"], r"^prefopt_tests_game:")
SELFPLAY = (["prefopt_tests_selfplay"], r"^prefopt_tests_selfplay:")




@dataclasses.dataclass
class Mutant:
    id: str
    file: str  # relative to the repository root
    bug: str
    edits: list  # [(original, replacement), ...], applied in order, each original unique
    suites: list  # [(cmake targets, ctest -R regex), ...], run in order until one fails
    planted: bool = False  # one of issue 18's seven planted bugs

    @property
    def targets(self):
        return [t for targets, _ in self.suites for t in targets]


def m(id, file, bug, edits, suites, planted=False):
    return Mutant(id, file, bug, edits, list(suites), planted)


INC = "include/prefopt/"
CATALOGUE = [
    # --- losses -------------------------------------------------------------------------------
    m("grad_nll_sum", INC + "losses/preference_loss.hpp",
      "d/d chosen_nll misses its 1/N (sum instead of mean)",
      [("if (gn != nullptr) gn[i] = scale * r.d_nll;", "if (gn != nullptr) gn[i] = r.d_nll;")],
      [LOSSES, BACKENDS], planted=True),
    m("kto_unpaired_rejected_sum", INC + "losses/kto_unpaired.hpp",
      "unpaired KTO rewards_rejected is a sum, not a mean",
      [("n - nd > 0 ? static_cast<T>(sum_u / static_cast<double>(n - nd)) : T(0);",
        "n - nd > 0 ? static_cast<T>(sum_u) : T(0);")],
      [LOSSES, BACKENDS], planted=True),
    m("span_pointer_check_dropped", INC + "losses/kto_unpaired.hpp",
      "unpaired KTO no longer hands the desirable flags to B::require_accessible",
      [('  prefopt::require_accessible<B>("desirable", in.desirable);\n', "")],
      [BACKENDS]),
    m("sppo_target_no_half", INC + "losses/sppo.hpp",
      "SPPO target (P - 1/2)/beta becomes P/beta",
      [("{(p.chosen_win_rate - T(0.5)) / this->beta_", "{p.chosen_win_rate / this->beta_"),
       ("(p.rejected_win_rate - T(0.5)) / this->beta_", "p.rejected_win_rate / this->beta_")],
      [LOSSES, BACKENDS], planted=True),
    m("robust_slope_sign", INC + "losses/dpo.hpp",
      "robust DPO slope: sign of the eps * sigma(z) term flipped",
      [("- e * prefopt::sigmoid(z)) * k;", "+ e * prefopt::sigmoid(z)) * k;")],
      [LOSSES, BACKENDS]),
    m("hinge_margin_sign", INC + "losses/dpo.hpp",
      "hinge: 1 + beta * margin instead of 1 - beta * margin",
      [("const T u = T(1) - this->beta_ * detail::margin(p);",
        "const T u = T(1) + this->beta_ * detail::margin(p);")],
      [LOSSES, BACKENDS]),
    m("ipo_target", INC + "losses/dpo.hpp",
      "IPO target 1/beta instead of 1/(2 beta)",
      [("T(1) / (T(2) * this->beta_);", "T(1) / this->beta_;")],
      [LOSSES, BACKENDS]),
    m("bco_delta_sign", INC + "losses/dpo.hpp",
      "bco_pair: rejected side adds the running mean instead of subtracting it",
      [("const T v = this->beta_ * detail::rejected_reward(p) - c.delta;",
        "const T v = this->beta_ * detail::rejected_reward(p) + c.delta;")],
      [LOSSES, BACKENDS]),
    m("bco_batch_mean", INC + "losses/preference_loss.hpp",
      "BCO running mean fed the batch sum over N instead of over 2N rewards",
      [("state.update(s / static_cast<double>(2 * n));", "state.update(s / static_cast<double>(n));")],
      [LOSSES, BACKENDS]),
    m("sum_reduction_scaled", INC + "losses/preference_loss.hpp",
      "reduction::sum also divides by N",
      [("options.reduce == reduction::mean ? T(1) / static_cast<T>(n) : T(1);",
        "options.reduce == reduction::mean ? T(1) / static_cast<T>(n) : T(1) / static_cast<T>(n);")],
      [LOSSES, BACKENDS]),
    m("derived_nll_grad_sign", INC + "losses/preference_loss.hpp",
      "derived NLL = -l_w/n_w: its chain-rule term added with the wrong sign",
      [("r.d_chosen - r.d_nll / p.chosen_tokens : r.d_chosen", "r.d_chosen + r.d_nll / p.chosen_tokens : r.d_chosen")],
      [LOSSES, BACKENDS]),
    m("reused_context_stale", INC + "losses/preference_loss.hpp",
      "the fused DPO path leaves a kept result's context (KTO z0, BCO delta) from the previous call",
      [("  out.context = {};  // no batch coupling (a reused result may hold an earlier call's)\n", "")],
      [LOSSES, CORE]),
    m("dpo_sums_tail_fill", INC + "detail/simd_kernels.inc",
      "DPO block kernel: the sums loop counts the lanes past the end of a block's last vector as loss 1",
      [("const V::reg counted = load_lanes(a.per, i, k, 0.0f);", "const V::reg counted = load_lanes(a.per, i, k, 1.0f);")],
      [CORE, LOSSES]),
    m("rejected_reward_wrong_ref", INC + "losses/pair.hpp",
      "rejected log-ratio uses the chosen reference log-prob",
      [("return p.rejected_logps - p.ref_rejected_logps;", "return p.rejected_logps - p.ref_chosen_logps;")],
      [LOSSES, BACKENDS]),
    m("exo_slope", INC + "losses/dpo.hpp",
      "EXO slope: z - log(1-eps) - log(eps) instead of + log(eps)",
      [("const T slope = q.pos * q.neg * (z - log_pw_ + log_pl_);",
        "const T slope = q.pos * q.neg * (z - log_pw_ - log_pl_);")],
      [LOSSES, BACKENDS]),
    # --- log-probs ----------------------------------------------------------------------------
    m("label_shift_dropped", INC + "core/views.hpp",
      "token_layout::label_column drops the label shift",
      [("return shift_labels ? p + 1 : p;", "return p;")],
      [CORE, BACKENDS, KL], planted=True),
    m("generic_backward_shift", INC + "logps/sequence_logps.hpp",
      "generic backward reads label t instead of t+1",
      [("const index_t col = shift ? t + 1 : t;", "const index_t col = t;")],
      [CORE, BACKENDS]),
    m("sequence_mean_count", INC + "logps/sequence_logps.hpp",
      "sequence mean divides by count + 1",
      [("mean[i] = sum[i] / count[i];", "mean[i] = sum[i] / (count[i] + S(1));")],
      [CORE, BACKENDS]),
    m("with_grad_mean_not_per_token", INC + "logps/host_fused_logps.hpp",
      "one-pass forward + backward: dL/dmean is not divided by the token count",
      [("gs[b] + (gm != nullptr ? gm[b] / count[b] : T(0));", "gs[b] + (gm != nullptr ? gm[b] : T(0));")],
      [CORE, BACKENDS]),
    m("with_grad_label_dropped", INC + "logps/detail/dispatched_rows.hpp",
      "one-pass row on a dispatched level: the label's +c is lost",
      [("      g[y] += c;\n      return lse;\n    }\n  }", "      return lse;\n    }\n  }")],
      [CORE, BACKENDS]),
    m("stored_exp_tail_dropped", INC + "detail/simd_kernels.inc",
      "sum_exp_store does not store the last partial vector's exps",
      [("    if constexpr (kStore) V::store_tail(e + i, k, e1);\n", "")],
      [CORE]),
    # --- fused linear head ----------------------------------------------------------------------
    m("head_label_last_column", "backends/eigen/include/prefopt/backends/eigen/linear_head.hpp",
      "fused head backward: a label in the last column of a vocabulary chunk loses its +g",
      [("if (y >= v0 && y < v0 + vn) x[y - v0] += g;", "if (y >= v0 && y < v0 + vn - 1) x[y - v0] += g;")],
      [CORE]),
    m("head_grad_weight_overwrite", "backends/eigen/include/prefopt/backends/eigen/linear_head.hpp",
      "fused head backward: later token chunks overwrite grad_weight instead of adding",
      [("else gw.noalias() += g.transpose() * h;", "else gw.noalias() = g.transpose() * h;")],
      [CORE]),
    m("head_grad_hidden_overwrite", "backends/eigen/include/prefopt/backends/eigen/linear_head.hpp",
      "fused head backward: later vocabulary chunks overwrite grad_hidden instead of adding",
      [("else gh.noalias() += s * w;", "else gh.noalias() = s * w;")],
      [CORE]),
    # --- KL -----------------------------------------------------------------------------------
    m("k3_derivative_sign", INC + "kl/estimators.hpp",
      "k3 estimator: d/dlogp = r - 1 instead of 1 - r",
      [("return {rm1 - lr, -rm1};", "return {rm1 - lr, rm1};")],
      [KL]),
    m("k2_half", INC + "kl/estimators.hpp",
      "k2 estimator drops its 1/2",
      [("case estimator::k2: return {T(0.5) * lr * lr, -lr};", "case estimator::k2: return {lr * lr, -lr};")],
      [KL]),
    m("divergence_reverse_acc", INC + "kl/divergence.hpp",
      "token divergence: the reference side's log-ratio accumulated with the wrong sign",
      [("ay -= ey * lr;", "ay += ey * lr;")],
      [KL]),
    m("kl_vector_reverse_acc", INC + "detail/simd_kernels.inc",
      "dispatched token KL: the reference side's log-ratio accumulated with the wrong sign",
      [("b.ay = V::fnmadd(ey, lr, b.ay);", "b.ay = V::fmadd(ey, lr, b.ay);")],
      [CORE, KL]),
    m("kl_vector_forward_dy", INC + "detail/simd_kernels.inc",
      "dispatched forward-KL gradient: d/dref = p - q instead of q - p",
      [("dy = V::mul(g.c, V::sub(q, p));", "dy = V::mul(g.c, V::sub(p, q));")],
      [CORE, KL]),
    m("kl_fused_token_row", INC + "kl/token_kl.hpp",
      "fused token KL: a position's value read from row b * P + p instead of b * T + p",
      [("const double v = stats[static_cast<std::size_t>(b * Tt + p)].value;",
        "const double v = stats[static_cast<std::size_t>(b * P + p)].value;")],
      [KL]),
    m("kl_gradient_stream_head", INC + "detail/simd_kernels.inc",
      "dispatched KL gradient, streamed rows: the reference gradient's unaligned head not stored",
      [("      if (gy) V::store_tail(gy, head, dy);\n", "")],
      [CORE, KL]),
    m("penalty_rejected_sign", INC + "kl/penalty.hpp",
      "KL penalty: rejected-side gradient subtracted",
      [("r.d_rejected += gamma_ * e.d_logp;", "r.d_rejected -= gamma_ * e.d_logp;")],
      [KL]),
    m("longpo_segment_mean", INC + "kl/longpo.hpp",
      "LongPO KL: segment sum instead of mean over its length",
      [("kl_b += seg / static_cast<double>(len);", "kl_b += seg;")],
      [KL]),
    # --- preference models --------------------------------------------------------------------
    m("bootstrap_confidence_90", INC + "prefmodel/bootstrap.hpp",
      "bootstrap default confidence 0.95 becomes 0.90",
      [("T confidence = T(0.95);", "T confidence = T(0.90);")],
      [PREFMODEL], planted=True),
    m("bt_tie_weight", INC + "prefmodel/bradley_terry.hpp",
      "Bradley-Terry: a tie counts as a full win for each side",
      [("const T a = r.wins_i + T(0.5) * r.ties, b = r.wins_j + T(0.5) * r.ties;",
        "const T a = r.wins_i + r.ties, b = r.wins_j + r.ties;")],
      [PREFMODEL]),
    m("bt_information", INC + "prefmodel/bradley_terry.hpp",
      "Bradley-Terry information drops the (1 - p) factor",
      [("hdd = (a + b) * p * (T(1) - p);", "hdd = (a + b) * p;")],
      [PREFMODEL]),
    m("davidson_tie_gradient", INC + "prefmodel/bradley_terry.hpp",
      "Davidson: tie-parameter gradient uses P(i wins) for P(tie)",
      [("if (grad) grad[n] += r.ties - nn * p3;", "if (grad) grad[n] += r.ties - nn * p1;")],
      [PREFMODEL]),
    m("quantile_no_interpolation", INC + "prefmodel/bootstrap.hpp",
      "bootstrap quantile: lower order statistic, no interpolation",
      [("return v[lo] + (pos - static_cast<T>(lo)) * (v[hi] - v[lo]);", "return v[lo];")],
      [PREFMODEL]),
    m("arena_rank_bound", INC + "prefmodel/bootstrap.hpp",
      "Arena rank counts items whose lower bound beats this item's lower (not upper) bound",
      [("std::upper_bound(lows.begin(), lows.end(), res.upper[i]);",
        "std::upper_bound(lows.begin(), lows.end(), res.lower[i]);")],
      [PREFMODEL]),
    # --- games --------------------------------------------------------------------------------
    m("exploitability_cols_n_minus_1", INC + "game/exploitability.hpp",
      "host exploitability: column best response over n-1 columns",
      [("*std::min_element(aty.begin(), aty.end());", "*std::min_element(aty.begin(), aty.end() - 1);")],
      [GAME], planted=True),
    m("iterative_max_n_minus_1", INC + "game/detail/backend_ops.hpp",
      "iterative solvers: best response (max_entry) over n-1 entries",
      [("return B::to_host_element(B::row_max(as_row<B>(v)), 0);",
        "return B::to_host_element(B::row_max(backend_primitives::row_view<B>::contiguous("
        "B::data(v), 1, B::size(v) - 1)), 0);")],
      [GAME], planted=True),
    m("exploitability_no_half", INC + "game/profile_values.hpp",
      "exploitability reported as NashConv instead of NashConv / 2",
      [("return nash_conv() / T(2);", "return nash_conv();")],
      [GAME]),
    m("batched_col_n_minus_1", INC + "game/detail/small_game_kernel.hpp",
      "batched kernel: column best response over n-1 columns",
      [("-sg_max(gc, g.n), v};", "-sg_max(gc, g.n - 1), v};")],
      [GAME]),
    m("optimistic_is_hedge", INC + "game/optimistic.hpp",
      "optimistic MWU loses its optimism (2 g_t - g_{t-1} becomes g_t)",
      [("e.eta * (T(2) * e.gradient - e.previous_gradient);", "e.eta * e.gradient;")],
      [GAME]),
    m("hedge_no_eta", INC + "game/hedge.hpp",
      "Hedge ignores its step size",
      [("return e.log_prob + e.eta * e.gradient;", "return e.log_prob + e.gradient;")],
      [GAME]),
    # --- self-play ----------------------------------------------------------------------------
    m("pairrm_scores_no_mean", INC + "selfplay/sppo_targets.hpp",
      "PairRM max_logits scores: a sum instead of a mean over K",
      [("s[i] = sum / static_cast<double>(k);", "s[i] = sum;")],
      [SELFPLAY]),
    m("sppo_chosen_probs_transposed", INC + "selfplay/sppo_targets.hpp",
      "sppo_single target P[l][w] instead of P[w][l]",
      [("t.chosen_probs = t.probability[t.chosen * k + t.rejected];",
        "t.chosen_probs = t.probability[t.rejected * k + t.chosen];")],
      [SELFPLAY]),
    m("sppo_row_mean_k_minus_1", INC + "selfplay/sppo_targets.hpp",
      "SPPO win-rate estimate divides by K - 1 (self-comparison dropped from the count only)",
      [("return sum / static_cast<double>(k);", "return sum / static_cast<double>(k - 1);")],
      [SELFPLAY]),
    m("tabular_softmax_grad_sign", INC + "selfplay/softmax_policy.hpp",
      "softmax policies (tabular, log-linear): softmax Jacobian term added instead of subtracted",
      [("-(coefficient_sum[x] * p[k])", "+(coefficient_sum[x] * p[k])")],
      [SELFPLAY]),
    m("bt_oracle_swapped", INC + "selfplay/oracles.hpp",
      "Bradley-Terry oracle returns P(second > first)",
      [("return sigmoid(t[p.first] - t[p.second]);",
        "return sigmoid(t[p.second] - t[p.first]);")],
      [SELFPLAY]),
    m("trainer_average_is_last", INC + "selfplay/trainer.hpp",
      "trainer history: exploitability_average reports the last iterate's exploitability",
      [("m.exploitability_average += exploitability(games[x], avg);",
        "m.exploitability_average += exploitability(games[x], current[x]);")],
      [SELFPLAY]),
]


def fail(msg):
    print(f"mutation_check: {msg}", file=sys.stderr)
    sys.exit(2)


def check_snippets(mut):
    path = ROOT / mut.file
    if not path.is_file():
        fail(f"{mut.id}: {mut.file} does not exist")
    text = path.read_text()
    for original, replacement in mut.edits:
        count = text.count(original)
        if count != 1:
            fail(f"{mut.id}: snippet found {count} times in {mut.file} (need exactly 1): {original!r}")
        text = text.replace(original, replacement)
    return text


def run(cmd, log, timeout=None):
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        try:
            r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            f.write(f"(timed out after {timeout} s)\n")
            return 124, (e.stdout or "") if isinstance(e.stdout, str) else ""
        f.write(r.stdout)
        return r.returncode, r.stdout


def configure(build, jobs, log):
    if (build / "CMakeCache.txt").exists():
        return
    rc, _ = run(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                 "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache", "-DPREFOPT_ENABLE_CUDA=OFF"], log)
    if rc != 0:
        fail(f"configuring {build} failed; see {log}")


def build_and_test(build, targets, tests, jobs, timeout, log):
    """(status, first_failure): status 'pass', 'fail' or 'build'."""
    rc, _ = run(["cmake", "--build", str(build), "-j", str(jobs), "--target", *targets], log)
    if rc != 0:
        return "build", "(does not compile)"
    rc, out = run(["ctest", "--test-dir", str(build), "-R", tests, "-j", str(jobs),
                   "--timeout", str(timeout), "--stop-on-failure"], log, timeout=None)
    if "No tests were found" in out:
        fail(f"ctest regex {tests!r} selects no tests; see {log}")
    # "  7/120 Test  #7: suite:name .....***Failed  0.05 sec" (also ***Timeout, ***Exception).
    failed = re.findall(r"Test\s+#\d+: (.+?) \.*\s*\*\*\*(?:Failed|Timeout|Exception)", out)
    if rc == 0 and not failed:
        return "pass", ""
    if not failed:
        failed = re.findall(r"^\s*\d+ - (.+) \([^)]*\)\s*$", out, re.M)  # "The following tests FAILED:"
    return "fail", failed[0] if failed else f"(ctest exit {rc})"


class Restorer:
    """Puts the original bytes back whatever happens (exception, Ctrl-C, SIGTERM)."""

    def __init__(self, path, original):
        self.path, self.original = path, original

    def __enter__(self):
        self.old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in self.old:
            signal.signal(s, self._signal)
        return self

    def _signal(self, signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc):
        self.path.write_bytes(self.original)
        for s, h in self.old.items():
            signal.signal(s, h)
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-mutation", help="build directory (default build-mutation)")
    ap.add_argument("--only", default="", help="comma-separated entry ids")
    ap.add_argument("--list", action="store_true", help="print the catalogue and exit")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=600, help="per-test ctest timeout (s)")
    ap.add_argument("--skip-baseline", action="store_true",
                    help="do not first check that the selected suites pass unmutated")
    args = ap.parse_args()

    ids = [c.id for c in CATALOGUE]
    if len(set(ids)) != len(ids):
        fail("duplicate ids in the catalogue")
    selected = CATALOGUE
    if args.only:
        wanted = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [w for w in wanted if w not in ids]
        if unknown:
            fail(f"unknown ids: {', '.join(unknown)} (see --list)")
        selected = [c for c in CATALOGUE if c.id in wanted]

    # Every snippet of the selected entries must be present exactly once before anything runs.
    for mut in selected:
        check_snippets(mut)
    if args.list:
        print("| id | file | bug | targets | planted in issue 18 |\n|---|---|---|---|---|")
        for mut in selected:
            print(f"| {mut.id} | {mut.file.replace(INC, '')} | {mut.bug} | {', '.join(mut.targets)} | "
                  f"{'yes' if mut.planted else ''} |")
        return 0

    build = (ROOT / args.build).resolve()
    build.mkdir(parents=True, exist_ok=True)
    log = build / "mutation_check.log"  # every command and its output
    log.write_text("")
    configure(build, args.jobs, log)
    touched = sorted({mut.file for mut in selected})
    dirty_before = {f for f in touched
                    if subprocess.run(["git", "diff", "--quiet", "--", f], cwd=ROOT).returncode != 0}

    if not args.skip_baseline:
        groups = {}
        for mut in selected:
            for targets, tests in mut.suites:
                groups.setdefault((tuple(targets), tests), None)
        for targets, tests in groups:
            print(f"baseline: {', '.join(targets)} ...", flush=True)
            status, first = build_and_test(build, list(targets), tests, args.jobs, args.timeout, log)
            if status != "pass":
                fail(f"baseline {status}: {first}; the unmutated tests must pass first (see {log})")

    rows, missed = [], 0
    for mut in selected:
        path = ROOT / mut.file
        original = path.read_bytes()
        mutated = check_snippets(mut)
        start = time.time()
        with Restorer(path, original):
            path.write_text(mutated)
            # Suite by suite: the first that fails catches the bug (later suites are not built).
            for targets, tests in mut.suites:
                status, first = build_and_test(build, targets, tests, args.jobs, args.timeout, log)
                if status != "pass":
                    break
        if path.read_bytes() != original:
            fail(f"{mut.file} was not restored")
        caught = status == "fail"
        missed += not caught
        label = {"fail": "yes", "pass": "**no**", "build": "**no** (mutant does not compile)"}[status]
        rows.append((mut, first if caught else "", label))
        print(f"{mut.id}: {label} {first} ({time.time() - start:.0f} s)", flush=True)

    # Leave the sources as found: rebuilt state is irrelevant, contents are not.
    for f in touched:
        if f not in dirty_before and subprocess.run(["git", "diff", "--quiet", "--", f], cwd=ROOT).returncode != 0:
            fail(f"{f} differs from git after the run")

    print()
    print("| id | file | bug | caught by (first failing test) | caught |")
    print("|---|---|---|---|---|")
    for mut, first, label in rows:
        star = " (planted)" if mut.planted else ""
        print(f"| {mut.id}{star} | {mut.file.replace(INC, '')} | {mut.bug} | {first} | {label} |")
    print(f"\n{len(rows) - missed} of {len(rows)} caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
