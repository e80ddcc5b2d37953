#include "messages/add_message_types.hpp"

#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

#include "messages/control_messages.hpp"
#include "messages/errc.hpp"
#include "messages/job_messages.hpp"
#include "messages/parameter_messages.hpp"
#include "messages/scheduler_actor.hpp"
#include "messages/server_shard_actor.hpp"
#include "messages/worker_actor.hpp"

namespace paramserv {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<gradient_push>("paramserv::gradient_push");
  cfg.add_message_type<parameter_pull>("paramserv::parameter_pull");
  cfg.add_message_type<parameter_slice>("paramserv::parameter_slice");
  cfg.add_message_type<epoch_plan>("paramserv::epoch_plan");
  cfg.add_message_type<epoch_report>("paramserv::epoch_report");
  cfg.add_message_type<shard_mode>("paramserv::shard_mode");
  cfg.add_message_type<commit_request>("paramserv::commit_request");
  cfg.add_message_type<shard_stats>("paramserv::shard_stats");
  cfg.add_message_type<shard_state>("paramserv::shard_state");
  cfg.add_message_type<worker_position>("paramserv::worker_position");
  cfg.add_message_type<checkpoint_request>("paramserv::checkpoint_request");
  cfg.add_message_type<progress_report>("paramserv::progress_report");
  cfg.add_message_type<data_source>("paramserv::data_source");
  cfg.add_message_type<request_timeouts>("paramserv::request_timeouts");
  cfg.add_message_type<job_spec>("paramserv::job_spec");
  cfg.add_message_type<registration>("paramserv::registration");
  cfg.add_message_type<shard_slice>("paramserv::shard_slice");
  cfg.add_message_type<worker_slice>("paramserv::worker_slice");
  cfg.add_message_type<worker_roster>("paramserv::worker_roster");
  cfg.add_message_type<row_handover>("paramserv::row_handover");
  cfg.add_message_type<shard_moved>("paramserv::shard_moved");
  cfg.add_message_type<epoch_metrics>("paramserv::epoch_metrics");
  cfg.add_message_type<evaluation_record>("paramserv::evaluation_record");
  cfg.add_message_type<std::vector<epoch_metrics>>(
    "std::vector<paramserv::epoch_metrics>");
  cfg.add_message_type<run_result>("paramserv::run_result");
  cfg.add_message_type<std::vector<uint32_t>>("std::vector<uint32_t>");
  cfg.add_message_type<std::vector<uint64_t>>("std::vector<uint64_t>");
  cfg.add_message_type<std::vector<float>>("std::vector<float>");
  cfg.add_message_type<std::vector<caf::actor>>("std::vector<caf::actor>");
  cfg.add_message_type<worker_actor>("paramserv::worker_actor");
  cfg.add_message_type<server_shard_actor>("paramserv::server_shard_actor");
  cfg.add_message_type<scheduler_actor>("paramserv::scheduler_actor");
  cfg.add_error_category(caf::atom("paramserv"),
    [](uint8_t code, caf::atom_value, const caf::message& ctx) {
      std::string result = "paramserv::";
      result += to_string(static_cast<errc>(code));
      if (ctx.match_elements<std::string>())
        result += ": " + ctx.get_as<std::string>(0);
      return result;
    });
}

} // namespace paramserv
