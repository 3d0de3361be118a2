// Connection and server commands (redis-server 7.0's server.c, config.c
// and debug.c as seen by clients): PING, ECHO, QUIT, COMMAND, CONFIG GET
// and DEBUG CRASH-STORE. INFO has a file of its own (info.cpp).
//
// Subcommands that redis counts apart in commandstats (config|get,
// command|count, ...) charge their own slot; an unknown subcommand is
// refused before it runs, as redis refuses it, and counts under none.
#include "call.hpp"

#include "glob.hpp"

namespace cachet::redis {

namespace {

void unknown_subcommand(call& c, std::string_view help) {
  std::string text = "ERR unknown subcommand '";
  text.append(c.argv[1].substr(0, 128));
  text += "'. Try ";
  text.append(help);
  text += " HELP.";
  c.slot = no_slot;
  c.reject(text);
}

} // namespace

void cmd_ping(call& c) {
  if (c.argv.size() > 2)
    return c.arity_error();
  if (c.argv.size() == 2)
    reply::bulk(c.out, c.argv[1]);
  else
    reply::simple(c.out, "PONG");
}

void cmd_echo(call& c) {
  reply::bulk(c.out, c.argv[1]);
}

void cmd_quit(call& c) {
  reply::ok(c.out);
  c.res.close = true;
}

void cmd_command(call& c) {
  auto& list = command_list();
  if (c.argv.size() == 1) {
    // COMMAND: [name, arity, flags, first key, last key, step] per command;
    // clients read no more than that.
    reply::array(c.out, static_cast<std::int64_t>(list.size()));
    for (auto& cmd : list) {
      reply::array(c.out, 6);
      reply::bulk(c.out, cmd.name);
      reply::integer(c.out, cmd.arity);
      reply::array(c.out, 0);
      reply::integer(c.out, 0);
      reply::integer(c.out, 0);
      reply::integer(c.out, 0);
    }
    return;
  }
  auto sub = c.argv[1];
  if (iequals(sub, "count") && c.argv.size() == 2) {
    c.slot = command_slot("command|count");
    reply::integer(c.out, static_cast<std::int64_t>(list.size()));
  } else if (iequals(sub, "docs")) {
    c.slot = command_slot("command|docs");
    reply::array(c.out, 0); // redis-cli then just has no hints
  } else if (iequals(sub, "list") && c.argv.size() == 2) {
    c.slot = command_slot("command|list");
    reply::array(c.out, static_cast<std::int64_t>(list.size()));
    for (auto& cmd : list)
      reply::bulk(c.out, cmd.name);
  } else {
    unknown_subcommand(c, "COMMAND");
  }
}

void cmd_config(call& c) {
  if (!iequals(c.argv[1], "get"))
    return unknown_subcommand(c, "CONFIG");
  c.name = "config|get";
  c.slot = command_slot(c.name);
  if (c.argv.size() < 3)
    return c.reject(c.arity_text());
  auto& cfg = c.env.config;
  const std::pair<std::string, std::string> params[] = {
    {"appendonly", "no"},
    {"bind", cfg.bind},
    {"databases", "1"},
    {"maxclients", ll_text(cfg.maxclients)},
    {"port", ll_text(cfg.port)},
    {"proto-max-bulk-len", ll_text(cfg.proto_max_bulk_len)},
    {"save", ""},
    {"client-output-buffer-limit",
     "normal " + ll_text(cfg.output_buffer_limit) + " "
       + ll_text(cfg.output_buffer_limit) + " 0"},
  };
  std::vector<const std::pair<std::string, std::string>*> hits;
  for (auto& p : params)
    for (std::size_t i = 2; i < c.argv.size(); ++i)
      if (glob_match(c.argv[i], p.first, true)) {
        hits.push_back(&p);
        break;
      }
  reply::array(c.out, static_cast<std::int64_t>(hits.size() * 2));
  for (auto* p : hits) {
    reply::bulk(c.out, p->first);
    reply::bulk(c.out, p->second);
  }
}

void cmd_debug(call& c) {
  if (!c.env.config.enable_debug_command)
    return c.reject(
      "ERR DEBUG command not allowed. If the enable-debug-command option is "
      "set to \"local\", you can run it from a local connection, otherwise "
      "you need to set this option in the configuration file, and then "
      "restart the server.");
  if (iequals(c.argv[1], "crash-store") && c.env.crash_store) {
    c.env.crash_store();
    return reply::ok(c.out);
  }
  c.error("ERR unknown subcommand or wrong number of arguments for '"
          + std::string{c.argv[1].substr(0, 128)} + "'. Try DEBUG HELP.");
}

} // namespace cachet::redis
