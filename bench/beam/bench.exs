# The BEAM side of cachet-bench: the same get/put workloads on the same keys
# and op streams (files written by cachet-bench), through GenServer.call to
# the table's owner and through :ets.lookup directly. Prints one JSON object
# per line on stdout; progress goes to stderr.
#
# Usage: elixir bench.exs --dir DIR --keys 1000 --threads 1,2 --callers 1,2,4
#          --mixes 100,95 --dists uniform,zipf --sweep-dist uniform
#          --seconds 1 --warmup 0.25 --repeats 3 [--memory 1000000]
# DIR holds keys.bin (u64 little-endian) and ops-DIST-MIX-T.bin (u32
# little-endian: key index, top bit set for a put).

defmodule Bench.Owner do
  @moduledoc "A GenServer owning an ETS table: cachet's owner, in Elixir."
  use GenServer

  @impl true
  def init({keys, access}) do
    tab = :ets.new(:bench, [:set, access, {:read_concurrency, true}])
    for k <- keys, do: :ets.insert(tab, {k, k})
    {:ok, tab}
  end

  @impl true
  def handle_call({:get, k}, _from, tab), do: {:reply, :ets.lookup(tab, k), tab}

  def handle_call({:put, k, v}, _from, tab) do
    :ets.insert(tab, {k, v})
    {:reply, :ok, tab}
  end

  def handle_call(:table, _from, tab), do: {:reply, tab, tab}
end

defmodule Bench do
  import Bitwise

  @batch 64

  def main(argv) do
    {o, _, _} =
      OptionParser.parse(argv,
        strict: [
          dir: :string, keys: :integer, threads: :string, callers: :string,
          mixes: :string, dists: :string, sweep_dist: :string,
          seconds: :string, warmup: :string, repeats: :integer, memory: :integer
        ]
      )

    dir = Keyword.fetch!(o, :dir)
    nkeys = Keyword.get(o, :keys, 1000)
    threads = ints(Keyword.get(o, :threads, "1,2"))
    callers = ints(Keyword.get(o, :callers, ""))
    mixes = ints(Keyword.get(o, :mixes, "100"))
    dists = String.split(Keyword.get(o, :dists, "uniform"), ",", trim: true)
    sweep_dist = Keyword.get(o, :sweep_dist, hd(dists))
    timing = %{
      seconds: num(Keyword.get(o, :seconds, "1")),
      warmup: num(Keyword.get(o, :warmup, "0.25")),
      repeats: Keyword.get(o, :repeats, 3)
    }

    emit(%{
      kind: "system",
      otp_release: List.to_string(:erlang.system_info(:otp_release)),
      erts_version: List.to_string(:erlang.system_info(:version)),
      elixir_version: System.version(),
      schedulers: :erlang.system_info(:schedulers_online)
    })

    keys = read_keys(Path.join(dir, "keys.bin"))

    for dist <- dists, mix <- mixes do
      # Reads go to a protected table as in cachet's direct_protected; with
      # writes, :ets.insert needs a public one.
      access = if mix == 100, do: :protected, else: :public
      {:ok, owner} = GenServer.start(Bench.Owner, {Tuple.to_list(keys), access})
      tab = GenServer.call(owner, :table)
      counts = if mix == 100 and dist == sweep_dist, do: Enum.uniq(threads ++ callers), else: threads

      for t <- Enum.sort(counts) do
        streams = for i <- 0..(t - 1), do: read_ops(dir, dist, mix, i, keys)
        series = if t in threads, do: "matrix", else: "sweep"
        cell = %{threads: t, keys: nkeys, mix: mix, dist: dist, value_type: "u64",
                 table: Atom.to_string(access), series: series}

        measure(cell, "beam_genserver_call", timing, streams, fn st ->
          call_loop(st, owner, @batch)
        end)

        if t in threads do
          measure(cell, "beam_ets_lookup", timing, streams, fn st ->
            ets_loop(st, tab, @batch)
          end)
        end
      end

      GenServer.stop(owner)
    end

    case Keyword.get(o, :memory, 0) do
      0 -> :ok
      n -> memory(n)
    end
  end

  # -- one cell: `repeats` timed runs, the median reported -------------------

  defp measure(cell, path, timing, streams, batch_fun) do
    runs = for _ <- 1..timing.repeats, do: run_once(timing, streams, batch_fun)
    ops = median(runs)
    IO.puts(:stderr, "beam: #{path} #{cell.threads} procs #{cell.dist} " <>
      "#{cell.mix}% reads: #{Float.round(ops / 1.0e6, 3)} M ops/s")
    emit(Map.merge(cell, %{kind: "result", path: path, ops_per_sec: ops, runs: runs}))
  end

  # Each worker counts its own operations between the two deadlines, looking
  # at the clock once per batch: nothing shared is touched per operation.
  defp run_once(timing, streams, batch_fun) do
    native = System.convert_time_unit(1, :second, :native)
    start = System.monotonic_time()
    warm_end = start + round(timing.warmup * native)
    stop_at = warm_end + round(timing.seconds * native)
    parent = self()

    pids =
      for ops <- streams do
        spawn_link(fn ->
          {rest, _} = spin(ops, batch_fun, 0, warm_end)
          t0 = System.monotonic_time()
          {_, n} = spin(rest, batch_fun, 0, stop_at)
          t1 = System.monotonic_time()
          send(parent, {:done, self(), n * native / max(t1 - t0, 1)})
        end)
      end

    pids
    |> Enum.map(fn pid -> receive do {:done, ^pid, rate} -> rate end end)
    |> Enum.sum()
  end

  # `st` is {ops still to run, the whole stream}: streams replay cyclically.
  defp spin(st, batch_fun, n, deadline) do
    st = batch_fun.(st)
    n = n + @batch
    if System.monotonic_time() >= deadline, do: {st, n}, else: spin(st, batch_fun, n, deadline)
  end

  defp call_loop({ops, all}, server, n), do: call_batch(ops, all, server, n)

  defp call_batch(ops, all, _server, 0), do: {ops, all}
  defp call_batch([], all, server, n), do: call_batch(all, all, server, n)

  defp call_batch([{:put, k} | rest], all, server, n) do
    :ok = GenServer.call(server, {:put, k, k + 1})
    call_batch(rest, all, server, n - 1)
  end

  defp call_batch([k | rest], all, server, n) do
    [{_, _}] = GenServer.call(server, {:get, k})
    call_batch(rest, all, server, n - 1)
  end

  defp ets_loop({ops, all}, tab, n), do: ets_batch(ops, all, tab, n)

  defp ets_batch(ops, all, _tab, 0), do: {ops, all}
  defp ets_batch([], all, tab, n), do: ets_batch(all, all, tab, n)

  defp ets_batch([{:put, k} | rest], all, tab, n) do
    true = :ets.insert(tab, {k, k + 1})
    ets_batch(rest, all, tab, n - 1)
  end

  defp ets_batch([k | rest], all, tab, n) do
    [{_, _}] = :ets.lookup(tab, k)
    ets_batch(rest, all, tab, n - 1)
  end

  # -- memory: 1M x (16 B key, 100 B value) in an ETS set ---------------------

  defp memory(n) do
    IO.puts(:stderr, "beam: memory, #{n} x (16 B, 100 B) into ETS")
    :erlang.garbage_collect()
    total0 = :erlang.memory(:total)
    rss0 = rss()
    tab = :ets.new(:memory, [:set, :protected])
    fill(tab, n, 0xFEED)
    :erlang.garbage_collect()
    total1 = :erlang.memory(:total)
    rss1 = rss()
    emit(%{kind: "memory", structure: "beam_ets", entries: n,
           vm_total_bytes_per_entry: (total1 - total0) / n,
           rss_bytes_per_entry: (rss1 - rss0) / n})
    :ets.delete(tab)
  end

  defp fill(_tab, 0, _x), do: :ok

  defp fill(tab, n, x) do
    x = band(x * 6_364_136_223_846_793_005 + 1_442_695_040_888_963_407, 0xFFFFFFFFFFFFFFFF)
    key = hex16(x)
    value = :binary.copy(hex16(bxor(x, 0x5555)), 6) <> binary_part(key, 0, 4)
    :ets.insert(tab, {key, value})
    fill(tab, n - 1, x)
  end

  defp hex16(x), do: String.pad_leading(Integer.to_string(x, 16), 16, "0")

  defp rss do
    [_, resident | _] = File.read!("/proc/self/statm") |> String.split()
    String.to_integer(resident) * 4096
  end

  # -- inputs and output ---------------------------------------------------------

  defp read_keys(path) do
    bin = File.read!(path)
    List.to_tuple(for <<k::little-unsigned-64 <- bin>>, do: k)
  end

  defp read_ops(dir, dist, mix, i, keys) do
    bin = File.read!(Path.join(dir, "ops-#{dist}-#{mix}-#{i}.bin"))

    ops =
      for <<x::little-unsigned-32 <- bin>> do
        k = elem(keys, band(x, 0x7FFFFFFF))
        if x >= 0x80000000, do: {:put, k}, else: k
      end

    {ops, ops}
  end

  defp ints(s), do: for(x <- String.split(s, ",", trim: true), do: String.to_integer(x))

  defp num(s) do
    {x, _} = Float.parse(s)
    x
  end

  defp median(xs) do
    s = Enum.sort(xs)
    n = length(s)
    if rem(n, 2) == 1, do: Enum.at(s, div(n, 2)), else: (Enum.at(s, div(n, 2) - 1) + Enum.at(s, div(n, 2))) / 2
  end

  # Minimal JSON for flat maps of numbers, strings and lists of numbers.
  defp emit(map) do
    body =
      map
      |> Enum.map(fn {k, v} -> "\"#{k}\": #{json(v)}" end)
      |> Enum.join(", ")

    IO.puts("{" <> body <> "}")
  end

  defp json(v) when is_binary(v), do: "\"" <> v <> "\""
  defp json(v) when is_list(v), do: "[" <> Enum.map_join(v, ", ", &json/1) <> "]"
  defp json(v) when is_float(v), do: :erlang.float_to_binary(v, [:short])
  defp json(v), do: to_string(v)
end

Bench.main(System.argv())
