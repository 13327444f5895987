#include "cli.hpp"

#include <CLI/CLI.hpp>
#include <cctype>
#include <set>
#include <string_view>
#include <utility>

#include "common.hpp"
#include "suggest.hpp"

namespace modelseal::tool {

Option* Option::required() {
  o_->required();
  return this;
}

Option* Option::check(const Range& r) {
  if (r.is_unsigned)
    o_->check(CLI::Range(static_cast<unsigned>(r.min), static_cast<unsigned>(r.max)));
  else
    o_->check(CLI::Range(r.min, r.max));
  return this;
}

Option* Option::check(const IsMember& m) {
  o_->check(CLI::IsMember(m.names));
  return this;
}

Option* Option::group(const std::string& name) {
  o_->group(name);
  return this;
}

Option* Option::transform(std::function<std::string(std::string&)> fn, const std::string& type) {
  o_->transform(CLI::Validator(std::move(fn), type));
  return this;
}

void Option::exclude(const std::string& name) { o_->excludes(name); }

size_t Option::count() const { return o_->count(); }

App::App(const std::string& description, const std::string& name)
    : owned_(std::make_unique<CLI::App>(description, name)), app_(owned_.get()) {}

App::App(CLI::App* borrowed) : app_(borrowed) {}

App::~App() = default;

Option* App::keep(CLI::Option* o) {
  options_.push_back(std::make_unique<Option>(o));
  return options_.back().get();
}

Option* App::add_option(const std::string& n, std::string& v, const std::string& h) { return keep(app_->add_option(n, v, h)); }
Option* App::add_option(const std::string& n, std::vector<std::string>& v, const std::string& h) {
  return keep(app_->add_option(n, v, h));
}
Option* App::add_option(const std::string& n, unsigned& v, const std::string& h) { return keep(app_->add_option(n, v, h)); }
Option* App::add_option(const std::string& n, unsigned long& v, const std::string& h) { return keep(app_->add_option(n, v, h)); }
Option* App::add_option(const std::string& n, long& v, const std::string& h) { return keep(app_->add_option(n, v, h)); }
Option* App::add_option(const std::string& n, int& v, const std::string& h) { return keep(app_->add_option(n, v, h)); }
Option* App::add_option(const std::string& n, double& v, const std::string& h) { return keep(app_->add_option(n, v, h)); }
Option* App::add_flag(const std::string& n, bool& v, const std::string& h) { return keep(app_->add_flag(n, v, h)); }

App* App::add_subcommand(const std::string& name, const std::string& description) {
  children_.push_back(std::unique_ptr<App>(new App(app_->add_subcommand(name, description))));
  return children_.back().get();
}

App* App::add_option_group(const std::string& name, const std::string& description) {
  children_.push_back(std::unique_ptr<App>(new App(app_->add_option_group(name, description))));
  return children_.back().get();
}

void App::require_subcommand(int n) { app_->require_subcommand(n); }
void App::footer(const std::string& text) { app_->footer(text); }
void App::set_version_flag(const std::string& names, const std::string& version) { app_->set_version_flag(names, version); }
std::string App::get_name() const { return app_->get_name(); }
App::operator bool() const { return static_cast<bool>(*app_); }

namespace {

// Every long option name of `app` and its subcommands, without the dashes.
void long_names(const CLI::App& app, std::set<std::string>& out) {
  for (const CLI::Option* o : app.get_options())
    for (const auto& n : o->get_lnames()) out.insert(n);
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) long_names(*sub, out);
}

// model_signing's spellings of options that mean the same here.
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"private-key", "key"},         {"private_key", "key"},       {"public_key", "public-key"},
    {"ignore-paths", "ignore"},     {"ignore_paths", "ignore"},
};

// The arguments as the parser should see them: an alias spelled as model_signing spells it is
// renamed, a long option written with one dash (`-key`, as Go programs take it) gets its second
// dash instead of being read as `-k ey`, and an unknown option is refused here, before the parser
// could report a missing argument first. Stops at `--`.
std::vector<std::string> normalized_args(const CLI::App& app, int argc, char** argv) {
  std::set<std::string> known;
  long_names(app, known);
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a == "--") break;
    if (a.size() > 2 && a[0] == '-' && a[1] != '-' && !std::isdigit(static_cast<unsigned char>(a[1]))) {
      const std::string name = a.substr(1, a.find('=') - 1);
      if (name.size() > 1 && known.count(name)) a = "-" + a;
      continue;
    }
    if (!a.starts_with("--") || a.size() == 2) continue;
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (known.count(name)) continue;
    bool renamed = false;
    for (const auto& [alias, target] : kAliases)
      if (name == alias && known.count(std::string(target))) {
        a = "--" + std::string(target) + (eq == std::string::npos ? "" : a.substr(eq));
        renamed = true;
      }
    if (renamed) continue;
    const std::string near = nearest(name, known);
    throw usage_error("unknown option --" + name, near.empty() ? "see '" + app.get_name() + " --help'"
                                                               : "did you mean --" + near + "?");
  }
  return args;
}

}  // namespace

std::optional<int> App::parse(int argc, char** argv) {
  try {
    std::vector<std::string> args;
    try {
      args = normalized_args(*app_, argc, argv);
    } catch (const Error& e) {
      print_error(e);
      return static_cast<int>(Status::usage);
    }
    std::vector<char*> ptrs;
    for (auto& a : args) ptrs.push_back(a.data());
    app_->parse(static_cast<int>(ptrs.size()), ptrs.data());
  } catch (const CLI::CallForHelp& e) {
    return app_->exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app_->exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app_->exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    // "The following argument ..." reads as one line of ours in lower case; "MODEL is required"
    // keeps the name it was given.
    if (msg.size() > 1 && std::islower(static_cast<unsigned char>(msg[1])))
      msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
    while (!msg.empty() && (msg.back() == '.' || msg.back() == '\n')) msg.pop_back();
    print_error(usage_error(msg, "see '" + app_->get_name() + " --help'"));
    return static_cast<int>(Status::usage);
  }
  return std::nullopt;
}

}  // namespace modelseal::tool
