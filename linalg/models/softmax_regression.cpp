#include "linalg/models/softmax_regression.hpp"

namespace paramserv {

template class basic_softmax_regression<float>;
template class basic_softmax_regression<double>;

} // namespace paramserv
