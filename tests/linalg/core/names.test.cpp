#include "linalg/core/names.hpp"

#include <doctest/doctest.h>

#include "linalg/data/feature_transform.hpp"
#include "linalg/data/load.hpp"
#include "linalg/data/partition.hpp"
#include "linalg/models/model.hpp"
#include "linalg/optim/lr_schedule.hpp"
#include "linalg/optim/optimizer.hpp"
#include "linalg/train/consistency.hpp"
#include "tests/linalg/core/names_check.hpp"

using namespace paramserv;

TEST_CASE_TEMPLATE("every enum name round-trips and an unknown name is "
                   "refused with the list of valid ones",
  Enum, data_format, scaling, partition_scheme, activation,
  lr_schedule_kind, consistency, update_frequency) {
  test::check_name_table<Enum>();
}

TEST_CASE("name_list joins names with commas and a final 'or'") {
  CHECK(name_list<data_format>() == "idx, csv or libsvm");
  CHECK(name_list<activation>() == "relu or tanh");
}

TEST_CASE("to_string of a value outside the table is '?'") {
  CHECK(std::string{to_string(static_cast<data_format>(99))} == "?");
}
