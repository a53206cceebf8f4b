#include "model/profile.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lm::model {

namespace {

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

const char* op_name(ProfOp op) {
  switch (op) {
    case ProfOp::Embed: return "embed";
    case ProfOp::Norm: return "rmsnorm";
    case ProfOp::Matmul: return "matmul";
    case ProfOp::LmHead: return "lm_head";
    case ProfOp::QkvHooks: return "qkv hooks+rope";
    case ProfOp::KvWrite: return "kv write";
    case ProfOp::Attention: return "attention";
    case ProfOp::Swiglu: return "swiglu";
    case ProfOp::Residual: return "residual add";
    case ProfOp::kCount: break;
  }
  return "?";
}

}  // namespace

bool OpProfile::enabled_by_env() {
  static const bool on = [] {
    const char* e = std::getenv("LM_PROFILE");
    return e != nullptr && *e != '\0' && std::strcmp(e, "0") != 0;
  }();
  return on;
}

OpProfile::Stamp OpProfile::now() const {
  return {clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_THREAD_CPUTIME_ID)};
}

void OpProfile::add(ProfOp op, const Stamp& start, DType type, uint64_t bytes) {
  const Stamp end = now();
  auto bump = [&](Row& r) {
    r.calls += 1;
    r.wall_ns += end.wall_ns - start.wall_ns;
    r.cpu_ns += end.cpu_ns - start.cpu_ns;
    r.bytes += bytes;
  };
  bump(ops_[static_cast<int>(op)]);
  const auto t = static_cast<uint32_t>(type);
  if (t < kTypes && op == ProfOp::Matmul) bump(matmul_[t]);
  if (t < kTypes && op == ProfOp::LmHead) bump(head_[t]);
}

void OpProfile::add_total(const Stamp& start) {
  const Stamp end = now();
  total_.calls += 1;
  total_.wall_ns += end.wall_ns - start.wall_ns;
  total_.cpu_ns += end.cpu_ns - start.cpu_ns;
}

// One line per op (and per weight type for the matmuls): share of the wall time, ms per forward
// call, and for matmuls the weight bytes read per wall second and per CPU second of the caller.
void OpProfile::print() const {
  if (!on_ || total_.calls == 0) return;
  std::string out = fmt::format(
      "LM_PROFILE: {} forward runs ({} single-token), {} tokens, {:.3f} s wall, {:.3f} s CPU "
      "(calling thread)\n{:<20} {:>8} {:>7} {:>10} {:>10} {:>9} {:>9}\n",
      total_.calls, single_runs_, tokens_, total_.wall_ns * 1e-9, total_.cpu_ns * 1e-9, "op",
      "calls", "wall%", "ms/run", "cpu ms/run", "GB/s", "GB/s cpu");
  const double runs = static_cast<double>(total_.calls);
  auto line = [&](const std::string& name, const Row& r) {
    if (r.calls == 0) return;
    const double pct = 100.0 * static_cast<double>(r.wall_ns) / static_cast<double>(total_.wall_ns);
    std::string bw, bw_cpu;
    if (r.bytes > 0) {
      bw = fmt::format("{:.2f}", static_cast<double>(r.bytes) / static_cast<double>(r.wall_ns));
      bw_cpu = fmt::format("{:.2f}", static_cast<double>(r.bytes) / static_cast<double>(r.cpu_ns));
    }
    out += fmt::format("{:<20} {:>8} {:>6.1f}% {:>10.3f} {:>10.3f} {:>9} {:>9}\n", name, r.calls,
                       pct, r.wall_ns * 1e-6 / runs, r.cpu_ns * 1e-6 / runs, bw, bw_cpu);
  };
  Row accounted;
  for (int i = 0; i < static_cast<int>(ProfOp::kCount); ++i) {
    const auto op = static_cast<ProfOp>(i);
    if (op == ProfOp::Matmul || op == ProfOp::LmHead) {
      for (uint32_t t = 0; t < kTypes; ++t) {
        const Row& r = op == ProfOp::Matmul ? matmul_[t] : head_[t];
        if (r.calls > 0) line(fmt::format("{} {}", op_name(op), dtype_name(static_cast<DType>(t))), r);
      }
    } else {
      line(op_name(op), ops_[i]);
    }
    accounted.wall_ns += ops_[i].wall_ns;
    accounted.cpu_ns += ops_[i].cpu_ns;
  }
  Row rest{total_.calls, total_.wall_ns - accounted.wall_ns, total_.cpu_ns - accounted.cpu_ns, 0};
  line("other", rest);
  std::fputs(out.c_str(), stderr);
}

}  // namespace lm::model
