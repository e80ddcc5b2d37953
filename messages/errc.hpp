#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include "linalg/core/names.hpp"

namespace paramserv {

/// Errors paramserv's actors return as values (never throw on the message
/// path). Category atom: "paramserv".
enum class errc : uint8_t {
  /// A message of another job.
  wrong_job = 1,
  /// Keys, lengths or value count that do not match the shard.
  bad_shape,
  /// A NaN or infinite value.
  not_finite,
  /// A worker id outside the job.
  bad_worker,
  /// A protocol step out of order.
  out_of_order,
  /// Training could not go on (e.g. every worker died).
  job_failed,
  /// Asked for something this actor cannot do where it runs (e.g. hogwild
  /// without memory shared with the shards).
  unsupported,
  /// A message from an actor other than the one registered under the id it
  /// names, or an internal message from another actor.
  bad_sender,
  /// A peer that speaks another protocol version.
  bad_version,
};

template <>
struct enum_names<errc> {
  static constexpr std::string_view what = "error code";
  static constexpr std::array table{
    std::pair{errc::wrong_job, "wrong_job"},
    std::pair{errc::bad_shape, "bad_shape"},
    std::pair{errc::not_finite, "not_finite"},
    std::pair{errc::bad_worker, "bad_worker"},
    std::pair{errc::out_of_order, "out_of_order"},
    std::pair{errc::job_failed, "job_failed"},
    std::pair{errc::unsupported, "unsupported"},
    std::pair{errc::bad_sender, "bad_sender"},
    std::pair{errc::bad_version, "bad_version"},
  };
};

/// Makes a caf::error of category "paramserv" carrying a one-line reason.
inline caf::error make_error(errc x, std::string reason) {
  return caf::error{static_cast<uint8_t>(x), caf::atom("paramserv"),
    caf::make_message(std::move(reason))};
}

} // namespace paramserv
