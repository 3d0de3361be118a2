// cachet: Erlang/OTP's GenServer-owns-an-ETS-table pattern on CAF.
// Include this for everything.
#pragma once

#include "cachet/access.hpp"
#include "cachet/blocking_caller.hpp"
#include "cachet/cache.hpp"
#include "cachet/counter.hpp"
#include "cachet/dump.hpp"
#include "cachet/errc.hpp"
#include "cachet/fwd.hpp"
#include "cachet/kind.hpp"
#include "cachet/owner.hpp"
#include "cachet/request_timer.hpp"
#include "cachet/snapshot.hpp"
#include "cachet/table.hpp"
#include "cachet/table_options.hpp"
