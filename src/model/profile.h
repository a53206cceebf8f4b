// OpProfile: per-operation timers of the forward pass, switched on by the environment variable
// LM_PROFILE=1 (read once per process). Off, a scope costs one predictable branch.
//
// Each scope records the wall time and the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID:
// on a loaded machine, wall time includes waiting for a core, CPU time does not), and for
// matmuls the bytes of weights read, so the report gives an effective GB/s per weight type. The
// report (print()) is one table on stderr; Forward prints it when it is destroyed.
//
// Ownership: plain data. Thread-safety: one owner thread (the Forward's caller). Cost when on:
// two clock reads per scope (~50 ns).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

#include "tensor/dtype.h"

namespace lm::model {

enum class ProfOp : int {
  Embed,
  Norm,      // rmsnorm of block inputs and of the output rows
  Matmul,    // per weight type (see OpProfile::matmul)
  LmHead,    // the output projection, per weight type
  QkvHooks,  // biases, q/k norm, rope
  KvWrite,
  Attention,
  Swiglu,
  Residual,
  kCount,
};

class OpProfile {
 public:
  // True when LM_PROFILE is set to something other than "0".
  static bool enabled_by_env();

  explicit OpProfile(bool on = enabled_by_env()) : on_(on) {}
  bool on() const { return on_; }

  struct Stamp {
    int64_t wall_ns = 0, cpu_ns = 0;
  };
  Stamp now() const;

  // Adds the time since `start` to op (and, for Matmul / LmHead, to the row of `type` with
  // `bytes` of weights read).
  void add(ProfOp op, const Stamp& start, DType type = DType::F32, uint64_t bytes = 0);
  void add_tokens(int64_t n_tokens, bool single) {
    tokens_ += n_tokens;
    runs_ += 1;
    single_runs_ += single ? 1 : 0;
  }
  void add_total(const Stamp& start);

  // The table on stderr; nothing when off or when nothing was recorded.
  void print() const;

 private:
  static constexpr int kTypes = 64;  // DType values are below this
  struct Row {
    int64_t calls = 0, wall_ns = 0, cpu_ns = 0;
    uint64_t bytes = 0;
  };
  bool on_;
  Row ops_[static_cast<int>(ProfOp::kCount)];
  Row matmul_[kTypes];
  Row head_[kTypes];
  Row total_;
  int64_t tokens_ = 0, runs_ = 0, single_runs_ = 0;
};

// Adds the time of its lifetime to a profile (when the profile is on).
class ProfScope {
 public:
  ProfScope(OpProfile& p, ProfOp op, DType type = DType::F32, uint64_t bytes = 0)
      : p_(p), op_(op), type_(type), bytes_(bytes) {
    if (p_.on()) start_ = p_.now();
  }
  ~ProfScope() {
    if (p_.on()) p_.add(op_, start_, type_, bytes_);
  }
  ProfScope(const ProfScope&) = delete;
  ProfScope& operator=(const ProfScope&) = delete;

 private:
  OpProfile& p_;
  ProfOp op_;
  DType type_;
  uint64_t bytes_;
  OpProfile::Stamp start_;
};

}  // namespace lm::model
