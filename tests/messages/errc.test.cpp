#include "messages/errc.hpp"

#include <doctest/doctest.h>

#include "tests/linalg/core/names_check.hpp"

using namespace paramserv;

TEST_CASE("every error code name round-trips and an unknown name is refused "
          "with the list of valid ones") {
  test::check_name_table<errc>();
}
