// End-to-end tests of the paramserv binary: it is started as a process, as
// a user would, and its output and exit code are checked.

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "tests/test_support.hpp"

namespace {

struct outcome {
  int code = -1;
  std::string output; // stdout and stderr
};

outcome run(const std::string& args) {
  std::string cmd = std::string{PARAMSERV_BINARY} + " " + args + " 2>&1";
  outcome result;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0)
    result.output.append(buf.data(), n);
  int status = pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Parses the key=value pairs of the last line starting with `prefix`.
std::map<std::string, std::string> fields(
  const std::string& output, const std::string& prefix) {
  std::map<std::string, std::string> result;
  std::istringstream in(output);
  std::string line, last;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0)
      last = line;
  std::istringstream words(last);
  std::string word;
  while (words >> word) {
    auto eq = word.find('=');
    if (eq != std::string::npos)
      result[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return result;
}

std::filesystem::path scratch(const std::string& name) {
  auto p = std::filesystem::temp_directory_path()
           / ("paramserv-cli-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(p);
  return p;
}

} // namespace

TEST_CASE("train refuses invalid options with a one-line error") {
  struct bad {
    const char* args;
    const char* message;
  };
  for (auto b : {bad{"--model cnn", "--model: unknown model \"cnn\""},
         bad{"--optimizer rmsprop", "--optimizer: unknown"},
         bad{"--lr -1", "--lr: must be a positive number"},
         bad{"--batch-size 0", "--batch-size: must be positive"},
         bad{"--epochs 0", "--epochs: must be positive"},
         bad{"--hidden 200,x", "--hidden: expected a comma list"},
         bad{"--model softmax --hidden 5", "no hidden layers"},
         bad{"--activation sigmoid", "--activation: unknown"},
         bad{"--lr-schedule linear", "--lr-schedule: unknown"},
         bad{"--momentum 1.5", "momentum must be in [0, 1)"},
         bad{"--format parquet", "--format: unknown format"},
         bad{"--scale log", "--scale: unknown scaling"},
         bad{"--backend gpu", "--backend: unknown backend"},
         bad{"--no-such-flag", "unrecognised option"}}) {
    CAPTURE(b.args);
    auto r = run(std::string{"train "} + b.args);
    CHECK(r.code == 2);
    CHECK(r.output.find(b.message) != std::string::npos);
    CHECK(r.output.find("paramserv train: error: ") == 0);
  }
}

TEST_CASE("train names a missing data file and exits non-zero") {
  auto r = run("train --data /nonexistent/data.csv");
  CHECK(r.code == 1);
  CHECK(r.output.find("/nonexistent/data.csv") != std::string::npos);
  auto m = run("train --config /nonexistent/job.ini");
  CHECK(m.code == 2);
  CHECK(m.output.find("/nonexistent/job.ini") != std::string::npos);
}

TEST_CASE("eval of a saved model reproduces the accuracy training printed") {
  auto dir = scratch("model");
  auto metrics = scratch("metrics.csv");
  auto t = run("train --backend sequential --model softmax --epochs 1 "
               "--optimizer adam --lr 0.001 --save "
               + dir.string() + " --metrics " + metrics.string());
  INFO(t.output);
  REQUIRE(t.code == 0);
  auto summary = fields(t.output, "summary ");
  REQUIRE(summary.count("test_accuracy") == 1);
  CHECK(std::stod(summary["test_accuracy"]) > 0.75);
  CHECK(std::filesystem::exists(dir / "manifest.json"));
  // Arrays are named <array>.<save id>.npy.
  CHECK(std::any_of(std::filesystem::directory_iterator(dir),
    std::filesystem::directory_iterator(), [](auto& entry) {
      return entry.path().filename().string().rfind("W1.", 0) == 0;
    }));
  auto e = run("eval --model " + dir.string());
  INFO(e.output);
  REQUIRE(e.code == 0);
  auto ev = fields(e.output, "eval ");
  CHECK(ev["samples"] == "10000");
  CHECK(ev["accuracy"] == summary["test_accuracy"]);
  CHECK(ev["loss"] == summary["test_loss"]);
  // The metrics CSV has a header and one row per epoch.
  std::ifstream in(metrics);
  std::string header, row, extra;
  std::getline(in, header);
  CHECK(header.rfind("epoch,elapsed_s,train_loss,test_loss,test_accuracy,"
                     "samples_per_s",
          0)
        == 0);
  CHECK(std::getline(in, row));
  CHECK(row.rfind("1,", 0) == 0);
  CHECK_FALSE(std::getline(in, extra));
  std::filesystem::remove_all(dir);
  std::filesystem::remove(metrics);
}

TEST_CASE("eval names a directory that holds no model") {
  auto dir = scratch("empty");
  std::filesystem::create_directories(dir);
  auto r = run("eval --model " + dir.string());
  CHECK(r.code == 1);
  CHECK(r.output.find((dir / "manifest.json").string()) != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a config file sets options and the command line overrides it") {
  auto ini = scratch("job.ini");
  {
    std::ofstream out(ini);
    out << "model = softmax\nepochs = 0\n";
  }
  // epochs = 0 from the file is refused...
  auto r = run("train --config " + ini.string());
  CHECK(r.code == 2);
  CHECK(r.output.find("--epochs: must be positive") != std::string::npos);
  {
    std::ofstream out(ini);
    out << "model = softmax\nbogus = 1\n";
  }
  auto u = run("train --config " + ini.string());
  CHECK(u.code == 2);
  CHECK(u.output.find(ini.string()) != std::string::npos);
  std::filesystem::remove(ini);
}

TEST_CASE("train refuses invalid parameter-server options") {
  struct bad {
    const char* args;
    const char* message;
  };
  // Checked before any data is read...
  for (auto b : {bad{"--mode foo", "--mode: unknown mode \"foo\""},
         bad{"--scheme foo", "--scheme: unknown scheme \"foo\""},
         bad{"--staleness -1", "--staleness: must be >= 0, got -1"},
         bad{"--backup-workers -1", "--backup-workers: must be >= 0"},
         bad{"--workers 0", "--workers: need at least one worker"},
         bad{"--shards 0", "--shards: need at least one shard"},
         bad{"--mode sbp --backup-workers 2 --workers 2",
           "--backup-workers: 2 backup workers need more workers than that "
           "(--workers 2)"},
         bad{"--mode-schedule bsp@1,sbp:3@2 --workers 3", "--backup-workers"},
         bad{"--freq sometimes", "--freq: unknown frequency"},
         bad{"--freq nbatches --nbatches 0", "--nbatches: must be positive"},
         bad{"--push-timeout 0", "--push-timeout: must be between"},
         bad{"--pull-timeout -2", "--pull-timeout: must be between"},
         bad{"--control-timeout 1e12", "--control-timeout: must be between"},
         bad{"--mode-schedule bsp@2",
           "--mode-schedule: entry \"bsp@2\": the first entry must start at "
           "epoch 1"},
         bad{"--mode-schedule ssp@1",
           "--mode-schedule: entry \"ssp@1\": ssp needs a parameter"},
         bad{"--mode-schedule bsp@1,asp@1",
           "--mode-schedule: entry \"asp@1\": epochs must increase"},
         bad{"--mode-schedule bsp@1 --mode asp",
           "--mode-schedule replaces --mode"},
         // ...and this one after loading Fashion-MNIST, because the number of
         // keys depends on the model's inputs.
         bad{"--shards 100000", "--shards: 100000 shards but the model has"}}) {
    CAPTURE(b.args);
    auto r = run(std::string{"train --epochs 1 "} + b.args);
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(r.output.find(b.message) != std::string::npos);
    CHECK(r.output.find("paramserv train: error: ") == 0);
  }
  // Valid parameter-server options do not hide a missing data file.
  auto m = run("train --mode ssp --staleness 2 --workers 3 "
               "--data /nonexistent/pixels.csv");
  CHECK(m.code == 1);
  CHECK(m.output.find("/nonexistent/pixels.csv") != std::string::npos);
}

TEST_CASE("under overlap_reshuffle the summary counts every row each worker "
          "trained") {
  // Each of the 2 workers visits all 60,000 rows: samples/s times training
  // seconds is 120,000 rows, not one pass (train_s is printed to 10 ms, so
  // allow 10%).
  for (auto [scheme, passes] :
    {std::pair{"overlap_reshuffle", 2.0}, std::pair{"disjoint_random", 1.0}}) {
    CAPTURE(scheme);
    auto r = run(std::string{"train --model softmax --epochs 1 --workers 2 "
                             "--threads 2 --scheme "}
                 + scheme);
    INFO(r.output);
    REQUIRE(r.code == 0);
    auto summary = fields(r.output, "summary ");
    double rows
      = std::stod(summary["samples_per_s"]) * std::stod(summary["train_s"]);
    CHECK(rows > 0.9 * passes * 60000);
    CHECK(rows < 1.1 * passes * 60000);
  }
}

TEST_CASE("train --resume continues from --checkpoint-dir to the model an "
          "uninterrupted run saves") {
  auto ckpts = scratch("ckpts");
  auto whole = scratch("whole");
  auto resumed = scratch("resumed");
  std::string job = "train --model softmax --optimizer adam --lr 0.001 "
                    "--epochs 3 --workers 2 --shards 2 --mode bsp ";
  auto t = run(
    job + "--checkpoint-dir " + ckpts.string() + " --save " + whole.string());
  INFO(t.output);
  REQUIRE(t.code == 0);
  CHECK(
    paramserv::test::contains(t.output, "checkpoint after epoch 2 written to"));
  auto r
    = run(job + "--resume " + ckpts.string() + " --save " + resumed.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(paramserv::test::contains(
    r.output, "resumed from " + ckpts.string() + " (after epoch 2)"));
  CHECK(paramserv::test::tensors(resumed.string())
        == paramserv::test::tensors(whole.string()));
  auto s = run("train --backend sequential --resume " + ckpts.string());
  CHECK(s.code == 2);
  CHECK(paramserv::test::contains(s.output, "--resume need --backend local"));
  auto n = run(job + "--resume " + scratch("nothing").string());
  CHECK(n.code != 0);
  CHECK(paramserv::test::contains(n.output, "no checkpoint that verifies"));
}

TEST_CASE("train restores a shard killed mid-run from --checkpoint-dir and "
          "saves the model of a run without the fault") {
  auto ckpts = scratch("restore-ckpts");
  auto whole = scratch("restore-whole");
  auto restored = scratch("restore-restored");
  std::string job = "train --model softmax --optimizer adam --lr 0.001 "
                    "--epochs 3 --workers 2 --shards 2 --mode bsp ";
  auto t = run(job + "--save " + whole.string());
  REQUIRE(t.code == 0);
  // 30,000 rows a worker, 469 pushes an epoch: shard 1 dies in epoch 3.
  auto r
    = run(job + "--checkpoint-dir " + ckpts.string()
          + " --inject-faults kill:shard:1:1200 --save " + restored.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(paramserv::test::contains(
    r.output, "shard 1 killed by the fault plan at clock 1200"));
  CHECK(paramserv::test::contains(
    r.output, "restored from the checkpoint after epoch 2"));
  CHECK(paramserv::test::tensors(restored.string())
        == paramserv::test::tensors(whole.string()));
}

TEST_CASE("--checkpoint-seconds cuts at the next clock boundary, and a run "
          "resumed from a cut inside an epoch saves the uninterrupted model") {
  // Batches of 1,024: 30 clocks a worker and epoch.
  std::string job
    = "train --model softmax --epochs 2 --workers 2 --batch-size 1024 ";
  auto never = scratch("seconds-never");
  auto r = run(job + "--checkpoint-dir " + never.string()
               + " --checkpoint-seconds 1000000");
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK_FALSE(paramserv::test::contains(r.output, "checkpoint "));
  auto whole = scratch("seconds-whole");
  REQUIRE(run(job + "--save " + whole.string()).code == 0);
  auto always = scratch("seconds-always");
  auto a = run(job + "--checkpoint-dir " + always.string()
               + " --checkpoint-seconds 0.000001");
  INFO(a.output);
  REQUIRE(a.code == 0);
  CHECK(paramserv::test::contains(a.output, "checkpoint in epoch 1 ("));
  CHECK(paramserv::test::contains(a.output, "checkpoint after epoch 1"));
  CHECK(paramserv::test::contains(a.output, "checkpoint in epoch 2 ("));
  // The newest is the cut at epoch 2's last clock; without it, the one a
  // clock before is inside the epoch.
  std::vector<std::filesystem::path> found;
  for (auto& entry : std::filesystem::directory_iterator(always))
    found.push_back(entry.path());
  std::sort(found.begin(), found.end());
  REQUIRE(found.size() == 2);
  std::filesystem::remove_all(found.back());
  auto resumed = scratch("seconds-resumed");
  auto b = run(job + "--resume " + always.string() + " --save "
               + resumed.string());
  INFO(b.output);
  REQUIRE(b.code == 0);
  CHECK(paramserv::test::contains(
    b.output, "resumed from " + always.string() + " (in epoch 2 ("));
  CHECK(paramserv::test::tensors(resumed.string())
        == paramserv::test::tensors(whole.string()));
  for (auto [flags, why] : {
         std::pair{"--checkpoint-seconds -1", "--checkpoint-seconds: must be"},
         std::pair{"--lr-scaling cubic", "--lr-scaling"},
         std::pair{"--warmup-epochs -1", "--warmup-epochs: must be"},
         std::pair{"--staleness-remedy wait", "--staleness-remedy"},
         std::pair{"--dc-lambda -1", "--dc-lambda: must be"},
         std::pair{"--validation-fraction 1", "--validation-fraction: must"},
         std::pair{"--target-accuracy 1.5", "--target-accuracy: must be"},
         std::pair{"--on-worker-loss forget", "--on-worker-loss"},
         std::pair{"--inject-faults drop:push:7", "--inject-faults: "},
         std::pair{"--backend sequential --on-worker-loss reassign",
           "need --backend local"},
       }) {
    CAPTURE(flags);
    auto bad = run(job + flags);
    CHECK(bad.code == 2);
    CHECK(paramserv::test::contains(bad.output, why));
  }
}
