#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "linalg/core/names.hpp"

namespace paramserv {

/// The consistency modes of the scheduler (see README, "Modes").
enum class consistency : uint8_t { bsp, asp, ssp, hogwild, sbp };

template <>
struct enum_names<consistency> {
  static constexpr std::string_view what = "mode";
  static constexpr std::array table{
    std::pair{consistency::bsp, "bsp"},
    std::pair{consistency::asp, "asp"},
    std::pair{consistency::ssp, "ssp"},
    std::pair{consistency::hogwild, "hogwild"},
    std::pair{consistency::sbp, "sbp"},
  };
};

/// A mode together with its parameter: the staleness bound s of ssp or the
/// number of backup workers b of sbp (0 otherwise).
struct mode_setting {
  consistency mode = consistency::bsp;
  uint32_t param = 0;

  friend bool operator==(const mode_setting&, const mode_setting&) = default;
};

/// What a mode asks of workers and shards: the one description every
/// mode-dependent choice outside the scheduler's gates is taken from.
struct mode_rules {
  /// Shards buffer pushes until the scheduler commits a clock (bsp, sbp);
  /// otherwise they apply each push on arrival.
  bool buffered = false;
  /// A worker's next read waits for its clock grant: push, acknowledgements,
  /// clock request, grant, then pull (bsp, sbp, and ssp for its read
  /// bound).
  bool gated_reads = false;
  /// A worker computes its next unit while the last one's replies are still
  /// out (asp).
  bool pipelined = false;
  /// Workers update the shards' memory in place, with no messages (hogwild
  /// in one process); the shards refuse pushes meanwhile.
  bool in_place = false;
};

/// The rules of mode `m`.
constexpr mode_rules rules_of(consistency m) {
  switch (m) {
    case consistency::bsp:
    case consistency::sbp:
      return {true, true, false, false};
    case consistency::ssp:
      return {false, true, false, false};
    case consistency::asp:
      return {false, false, true, false};
    case consistency::hogwild:
      return {false, false, false, true};
  }
  return {};
}

/// "bsp", "ssp:3", "sbp:1".
std::string to_string(const mode_setting& m);

/// One entry of a mode schedule: from one-based epoch `epoch` on, run `mode`.
struct mode_switch {
  mode_setting mode;
  size_t epoch = 1;

  friend bool operator==(const mode_switch&, const mode_switch&) = default;
};

/// A list of mode switches ordered by epoch, the first at epoch 1.
using mode_schedule = std::vector<mode_switch>;

/// Parses a comma list of `MODE[:PARAM]@EPOCH`, e.g. "bsp@1,ssp:3@2".
/// Epochs must start at 1 and increase strictly; ssp and sbp take a
/// parameter, the others none (ssp without one means s = 0 is NOT assumed:
/// it is an error).
/// @throws std::invalid_argument("...") naming the bad entry.
mode_schedule parse_mode_schedule(std::string_view text);

/// The mode that runs in one-based epoch `epoch`.
mode_setting mode_at(const mode_schedule& schedule, size_t epoch);

/// How often a worker pushes.
enum class update_frequency : uint8_t { batch, nbatches, epoch };

template <>
struct enum_names<update_frequency> {
  static constexpr std::string_view what = "frequency";
  static constexpr std::array table{
    std::pair{update_frequency::batch, "batch"},
    std::pair{update_frequency::nbatches, "nbatches"},
    std::pair{update_frequency::epoch, "epoch"},
  };
};

} // namespace paramserv
