#pragma once

#include <initializer_list>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace paramserv {

/// Factories by name: how a job that names a model or an update rule (code
/// never travels in a message) finds the code in each process. The
/// built-in names are fixed and always known; custom ones are added and
/// removed at run time. Thread-safe: embedding applications may register
/// from any thread while jobs look names up.
template <class Factory>
class named_registry {
public:
  /// `what` names the kind of thing in messages ("model", "update rule").
  named_registry(std::string what, std::initializer_list<const char*> built_in)
    : what_(std::move(what)), built_in_(built_in.begin(), built_in.end()) {}

  /// Whether `name` is one of the built-in names.
  bool built_in(const std::string& name) const {
    for (auto& b : built_in_)
      if (b == name)
        return true;
    return false;
  }

  /// Adds `make` under `name`, replacing an earlier one of that name.
  /// @throws std::invalid_argument for an empty or built-in name or an
  ///         empty factory.
  void add(const std::string& name, Factory make) {
    if (name.empty() || built_in(name) || !make)
      throw std::invalid_argument("register " + what_ + " \"" + name
                                  + "\": needs a name other than "
                                  + built_in_list() + ", and a factory");
    std::lock_guard<std::mutex> guard{mtx_};
    custom_[name] = std::move(make);
  }

  /// Removes the custom `name`; returns whether it was there.
  bool remove(const std::string& name) {
    std::lock_guard<std::mutex> guard{mtx_};
    return custom_.erase(name) > 0;
  }

  /// The factory of the custom `name`, or an empty one.
  Factory find(const std::string& name) const {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = custom_.find(name);
    return i == custom_.end() ? Factory{} : i->second;
  }

  /// Whether `name` is built in or registered.
  bool known(const std::string& name) const {
    if (built_in(name))
      return true;
    std::lock_guard<std::mutex> guard{mtx_};
    return custom_.count(name) > 0;
  }

  /// Every known name, built-in ones first, for messages: "a, b, c". Names
  /// that begin with `private_prefix` (what paramserv::train registers for
  /// the length of a call) are left out.
  std::string names() const {
    std::string result = built_in_list();
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& entry : custom_)
      if (entry.first.rfind(private_prefix, 0) != 0)
        result += ", " + entry.first;
    return result;
  }

  /// The prefix of names private to one caller.
  static constexpr const char* private_prefix = "paramserv::train/";

private:
  std::string built_in_list() const {
    std::string result;
    for (auto& b : built_in_)
      result += (result.empty() ? "" : ", ") + b;
    return result;
  }

  std::string what_;
  std::vector<std::string> built_in_;
  mutable std::mutex mtx_;
  std::map<std::string, Factory> custom_;
};

} // namespace paramserv
