# The BEAM side of cachet-bench's query rows: :ets.select, :ets.select_count
# and :ets.select_delete on a set of {key, value, expires_at} tuples, and
# :ets.lookup on a bag with 4 objects per key, on the keys cachet-bench
# wrote; all in one process, so on one core. Prints one JSON object per
# line on stdout; progress goes to stderr.
#
# Usage: elixir query.exs --dir DIR --now NOW --bag-keys 250000 --repeats 3
#          --seconds 0.1 --warmup 0.025
# DIR holds keys.bin (u64 little-endian; entry i is {key i, i,
# expires_at(i)}) and bag-ops.bin (u32 little-endian key indexes, replayed
# cyclically by the bag lookups).

defmodule Query do
  @batch 64

  def main(argv) do
    # Million-element lists cost seconds of garbage collection in a heap
    # that grows to hold them, none in one sized for them from the start.
    {pid, ref} = :erlang.spawn_opt(fn -> run(argv) end, [:monitor, {:min_heap_size, 8_000_000}])

    receive do
      {:DOWN, ^ref, :process, ^pid, :normal} -> :ok
      {:DOWN, ^ref, :process, ^pid, _} -> System.halt(1)
    end
  end

  defp run(argv) do
    {o, _, _} =
      OptionParser.parse(argv,
        strict: [dir: :string, now: :integer, bag_keys: :integer, repeats: :integer,
                 seconds: :string, warmup: :string]
      )

    dir = Keyword.fetch!(o, :dir)
    now = Keyword.fetch!(o, :now)
    repeats = Keyword.get(o, :repeats, 3)

    emit(%{
      kind: "system",
      otp_release: List.to_string(:erlang.system_info(:otp_release)),
      erts_version: List.to_string(:erlang.system_info(:version)),
      elixir_version: System.version(),
      schedulers: :erlang.system_info(:schedulers_online)
    })

    bin = File.read!(Path.join(dir, "keys.bin"))
    keys = List.to_tuple(for <<k::little-unsigned-64 <- bin>>, do: k)
    n = tuple_size(keys)
    entry = fn i -> {elem(keys, i), i, expires_at(i, now)} end

    # Cachex's table options: a public set, both concurrency flags.
    IO.puts(:stderr, "beam: query, #{n} entries into an ETS set")
    tab = :ets.new(:query, [:set, :public, {:read_concurrency, true}, {:write_concurrency, true}])
    fill(tab, n, 1000, entry)
    expired = for i <- 0..(n - 1), expires_at(i, now) < now, do: entry.(i)

    # The match specs cachet's functions mirror (no fun2ms: literal specs).
    one_pct = [{:==, {:rem, :"$2", 100}, 0}]
    select = [{{:"$1", :"$2", :"$3"}, one_pct, [:"$1"]}]
    count = [{{:"$1", :"$2", :"$3"}, one_pct, [true]}]
    purge = [{{:"$1", :"$2", :"$3"}, [{:<, :"$3", now}], [true]}]

    timed("beam_ets_select", n, repeats, fn -> :ets.select(tab, select) end, fn -> :ok end)
    timed("beam_ets_select_count", n, repeats, fn -> :ets.select_count(tab, count) end, fn -> :ok end)
    # Each call starts from the full table: the purged entries go back, untimed.
    timed("beam_ets_select_delete", n, repeats, fn -> :ets.select_delete(tab, purge) end,
          fn -> true = :ets.insert(tab, expired) end)
    :ets.delete(tab)

    bag_keys = Keyword.fetch!(o, :bag_keys)
    IO.puts(:stderr, "beam: query, #{bag_keys} keys x 4 objects into an ETS bag")
    bag = :ets.new(:bag, [:bag, :public, {:read_concurrency, true}])
    fill(bag, 4 * bag_keys, 1000, fn x -> {elem(keys, div(x, 4)), x} end)
    ops_bin = File.read!(Path.join(dir, "bag-ops.bin"))
    ops = for <<x::little-unsigned-32 <- ops_bin>>, do: elem(keys, x)
    warmup = num(Keyword.get(o, :warmup, "0.025"))
    seconds = num(Keyword.get(o, :seconds, "0.1"))
    runs = for _ <- 1..repeats, do: lookup_rate(ops, bag, warmup, seconds)
    ops_per_sec = median(runs)
    IO.puts(:stderr, "beam: beam_ets_bag_lookup #{Float.round(ops_per_sec / 1.0e6, 3)} M ops/s")
    emit(%{kind: "query", path: "beam_ets_bag_lookup", keys: bag_keys, objects_per_key: 4,
           ops_per_sec: ops_per_sec, runs: runs})
  end

  # Inserts object(0) .. object(n - 1), `chunk` per call.
  defp fill(tab, n, chunk, object) do
    for lo <- 0..(n - 1)//chunk do
      true = :ets.insert(tab, for(i <- lo..min(lo + chunk, n) - 1, do: object.(i)))
    end
  end

  # Entry i's expiry: every tenth entry is expired. Keep in step with
  # query.cpp's expires_at.
  defp expires_at(i, now) do
    jitter = rem(i, 1000)
    if rem(i, 10) == 5, do: now - 1 - jitter, else: now + 60_000 + jitter
  end

  # -- the select family: one call over the whole table per run ---------------

  # `repeats` timed calls, each followed by `restore`, untimed. Each starts
  # after a full collection, so that no call pays for the last one's garbage.
  defp timed(path, n, repeats, call, restore) do
    results =
      for _ <- 1..repeats do
        :erlang.garbage_collect()
        t0 = System.monotonic_time()
        res = call.()
        t1 = System.monotonic_time()
        restore.()
        {System.convert_time_unit(t1 - t0, :native, :nanosecond) / 1.0e9, matched(res)}
      end

    runs = for {s, _} <- results, do: s
    {_, m} = List.last(results)
    seconds = median(runs)
    IO.puts(:stderr, "beam: #{path} #{Float.round(seconds * 1.0e3, 2)} ms, #{m} matched")
    emit(%{kind: "query", path: path, entries: n, matched: m, seconds: seconds, runs: runs,
           rows_per_sec: n / seconds})
  end

  defp matched(xs) when is_list(xs), do: length(xs)
  defp matched(n) when is_integer(n), do: n

  # -- bag lookups: ops/s over `seconds`, the clock read once per batch --------

  defp lookup_rate(ops, tab, warmup, seconds) do
    :erlang.garbage_collect()
    native = System.convert_time_unit(1, :second, :native)
    {rest, _} = spin(ops, ops, tab, 0, System.monotonic_time() + round(warmup * native))
    t0 = System.monotonic_time()
    {_, n} = spin(rest, ops, tab, 0, t0 + round(seconds * native))
    n * native / max(System.monotonic_time() - t0, 1)
  end

  defp spin(ops, all, tab, n, deadline) do
    ops = lookup_batch(ops, all, tab, @batch)
    n = n + @batch
    if System.monotonic_time() >= deadline, do: {ops, n}, else: spin(ops, all, tab, n, deadline)
  end

  defp lookup_batch(ops, _all, _tab, 0), do: ops
  defp lookup_batch([], all, tab, n), do: lookup_batch(all, all, tab, n)

  defp lookup_batch([k | rest], all, tab, n) do
    [_, _, _, _] = :ets.lookup(tab, k)
    lookup_batch(rest, all, tab, n - 1)
  end

  # -- output -----------------------------------------------------------------

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

Query.main(System.argv())
