#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace paramserv {

/// The consistency modes of the scheduler (see README, "Modes").
enum class consistency : uint8_t { bsp, asp, ssp, hogwild, sbp };

/// Parses "bsp", "asp", "ssp", "hogwild" or "sbp".
std::optional<consistency> parse_consistency(std::string_view str);

/// Returns the name parse_consistency accepts.
const char* to_string(consistency m);

/// A mode together with its parameter: the staleness bound s of ssp or the
/// number of backup workers b of sbp (0 otherwise).
struct mode_setting {
  consistency mode = consistency::bsp;
  uint32_t param = 0;

  friend bool operator==(const mode_setting&, const mode_setting&) = default;
};

/// "bsp", "ssp:3", "sbp:1".
std::string to_string(const mode_setting& m);

/// One entry of a mode schedule: from one-based epoch `epoch` on, run `mode`.
struct mode_switch {
  mode_setting mode;
  size_t epoch = 1;
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

/// Parses "batch", "nbatches" or "epoch".
std::optional<update_frequency> parse_update_frequency(std::string_view str);

const char* to_string(update_frequency f);

} // namespace paramserv
