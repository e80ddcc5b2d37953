#include "actors/checkpoint.hpp"

#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "linalg/io/checkpoint_store.hpp"

namespace paramserv {

namespace {

template <class T>
std::string encode(caf::actor_system& sys, T& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (auto err = sink(x))
    throw std::runtime_error{"checkpoint: cannot encode: " + sys.render(err)};
  return {buf.begin(), buf.end()};
}

template <class T>
void decode(caf::actor_system& sys, const std::string& bytes, T& x,
  const std::string& where) {
  caf::binary_deserializer source{sys, bytes.data(), bytes.size()};
  if (auto err = source(x))
    throw std::invalid_argument{where + ": cannot decode: " + sys.render(err)};
  if (source.remaining() != 0)
    throw std::invalid_argument{
      where + ": " + std::to_string(source.remaining()) + " bytes left over"};
}

std::string shard_part(uint32_t id) {
  return "shard-" + std::to_string(id);
}

// Throws unless `field` of the checkpoint's job equals the resuming one's.
template <class T>
void same(
  const std::string& dir, const char* field, const T& then, const T& now) {
  if (!(then == now))
    throw std::invalid_argument{
      "--resume " + dir + ": the checkpoint is of a job with another " + field};
}

} // namespace

std::string cut_name(const job_checkpoint& job) {
  if (job.positions.empty())
    return "after epoch " + std::to_string(job.epochs_done);
  uint64_t rows = 0;
  for (auto& p : job.positions)
    rows += p.report.rows;
  return "in epoch " + std::to_string(job.epochs_done + 1) + " ("
         + std::to_string(rows) + " rows trained)";
}

void write_checkpoint(caf::actor_system& sys, const std::string& dir,
  job_checkpoint job, std::vector<shard_state> shards) {
  checkpoint c;
  c.sequence = job.sequence;
  c.parts["job"] = encode(sys, job);
  for (auto& s : shards)
    c.parts[shard_part(s.id)] = encode(sys, s);
  checkpoint_store{dir}.commit(c);
}

resume_point read_checkpoint(
  caf::actor_system& sys, const std::string& dir, const job_spec& spec) {
  checkpoint_store store{dir};
  auto loaded = store.load_latest();
  resume_point result;
  result.refused = loaded.refused;
  if (!loaded.found)
    throw std::invalid_argument{
      "--resume " + dir + ": no checkpoint that verifies"
      + (loaded.refused.empty() ? std::string{}
                                : " (" + loaded.refused.front() + ")")};
  auto& c = *loaded.found;
  auto part = [&](const std::string& name) -> const std::string& {
    auto i = c.parts.find(name);
    if (i == c.parts.end())
      throw std::invalid_argument{
        "--resume " + dir + ": the checkpoint has no part " + name};
    return i->second;
  };
  decode(sys, part("job"), result.job, dir + "/job");
  result.from = dir + " (" + cut_name(result.job) + ")";
  auto& then = result.job.spec;
  same(dir, "model", then.opts.model, spec.opts.model);
  same(dir, "update rule", then.opts.optimizer, spec.opts.optimizer);
  same(dir, "batch size", then.opts.batch_size, spec.opts.batch_size);
  same(dir, "seed", then.opts.seed, spec.opts.seed);
  same(dir, "partition scheme", then.opts.scheme, spec.opts.scheme);
  same(dir, "number of shards", then.shards, spec.shards);
  same(dir, "number of workers", then.workers, spec.workers);
  same(dir, "training set (rows)", then.data.rows, spec.data.rows);
  same(dir, "validation set (rows held out)",
    validation_rows(then.opts.validation, then.data.rows),
    validation_rows(spec.opts.validation, spec.data.rows));
  if (!result.job.positions.empty()) {
    // A cut inside an epoch: its positions count units of this size.
    same(dir, "push frequency", then.freq, spec.freq);
    same(dir, "number of batches per push", then.nbatches, spec.nbatches);
  }
  if (result.job.sequence != c.sequence)
    throw std::invalid_argument{
      "--resume " + dir + ": the job part disagrees with the manifest"};
  if (!result.job.positions.empty()
      && result.job.positions.size() != spec.workers)
    throw std::invalid_argument{"--resume " + dir + ": the checkpoint has "
                                + std::to_string(result.job.positions.size())
                                + " worker positions for "
                                + std::to_string(spec.workers) + " workers"};
  if (result.job.epochs_done >= spec.opts.epochs)
    throw std::invalid_argument{
      "--resume " + dir + ": the checkpoint has "
      + std::to_string(result.job.epochs_done) + " epochs done; --epochs "
      + std::to_string(spec.opts.epochs) + " leaves nothing to train"};
  for (uint32_t s = 0; s < spec.shards; ++s) {
    shard_state state;
    decode(sys, part(shard_part(s)), state, dir + "/" + shard_part(s));
    if (state.id != s)
      throw std::invalid_argument{
        "--resume " + dir + ": part " + shard_part(s) + " is another shard's"};
    result.shards.push_back(std::move(state));
  }
  return result;
}

} // namespace paramserv
