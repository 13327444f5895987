// The programs' command lines: a thin layer over CLI11 that keeps its header out of every program's
// source. CLI11 is header-only (Debian's 2.1.2 has no compiled mode) and its header costs each
// source that includes it about 10 s of compiling; only tools/cli.cpp includes it now.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace modelseal::tool {

// A number option's bounds, checked and shown in --help as CLI11's Range does.
struct Range {
  Range(unsigned lo, unsigned hi) : min(lo), max(hi), is_unsigned(true) {}
  Range(long lo, long hi) : min(lo), max(hi), is_unsigned(false) {}
  long min, max;
  bool is_unsigned;
};

// The values a string option may take.
struct IsMember {
  IsMember(std::vector<std::string> values) : names(std::move(values)) {}
  std::vector<std::string> names;
};

class Option {
 public:
  explicit Option(CLI::Option* o) : o_(o) {}
  Option* required();
  Option* check(const Range& range);
  Option* check(const IsMember& member);
  Option* group(const std::string& name);   // "" hides it from --help
  // Values are turned into what the option stores by `fn` (which may rewrite its argument), or
  // refused with the message it returns; `type` names the value in --help.
  Option* transform(std::function<std::string(std::string&)> fn, const std::string& type);
  template <typename... Names>
  Option* excludes(const Names&... names) {
    (exclude(std::string(names)), ...);
    return this;
  }
  size_t count() const;   // how often it was given

 private:
  void exclude(const std::string& name);
  CLI::Option* o_;
};

class App {
 public:
  App(const std::string& description, const std::string& name);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  Option* add_option(const std::string& names, std::string& value, const std::string& help = "");
  Option* add_option(const std::string& names, std::vector<std::string>& values, const std::string& help = "");
  Option* add_option(const std::string& names, unsigned& value, const std::string& help = "");
  Option* add_option(const std::string& names, unsigned long& value, const std::string& help = "");
  Option* add_option(const std::string& names, long& value, const std::string& help = "");
  Option* add_option(const std::string& names, int& value, const std::string& help = "");
  Option* add_option(const std::string& names, double& value, const std::string& help = "");
  Option* add_flag(const std::string& names, bool& value, const std::string& help = "");
  App* add_subcommand(const std::string& name, const std::string& description);
  App* add_option_group(const std::string& name, const std::string& description);
  void require_subcommand(int n);
  void footer(const std::string& text);
  void set_version_flag(const std::string& names, const std::string& version);
  std::string get_name() const;
  explicit operator bool() const;   // this subcommand was given

  // Parses the command line (model_signing's option spellings accepted, unknown options refused
  // with a suggestion). Returns nothing when the program should go on, else its exit status:
  // 0 after --help or --version, 2 after a usage error (said in one line on stderr).
  std::optional<int> parse(int argc, char** argv);

 private:
  explicit App(CLI::App* borrowed);
  Option* keep(CLI::Option* o);
  std::unique_ptr<CLI::App> owned_;
  CLI::App* app_;
  std::vector<std::unique_ptr<Option>> options_;
  std::vector<std::unique_ptr<App>> children_;
};

}  // namespace modelseal::tool
