# The BEAM side of cachet-bench's remote rows: two Erlang nodes on 127.0.0.1.
# `serve` runs on node b: a GenServer owning an ETS table of keys 0..N-1
# (value = key), registered as :remote_bench, until its stdin closes.
# `measure` runs on node a and times, as cachet's rows are timed:
# GenServer.call({:remote_bench, b}, {:get, k}) from 1 and 2 processes,
# :erpc.call(b, :ets, :lookup, [:remote_bench, k]) likewise, and one process
# keeping WINDOW requests in flight (:gen_server.send_request). Prints one
# JSON object per line on stdout; progress goes to stderr.
#
# Usage (cachet-bench starts both nodes, with ERL_EPMD_PORT set to the epmd
# it started on 127.0.0.1):
#   elixir --name b@127.0.0.1 --cookie C remote.exs serve --keys 1000
#   elixir --name a@127.0.0.1 --cookie C remote.exs measure --peer b@127.0.0.1
#     --keys 1000 --seconds 0.5 --warmup 0.125 --repeats 3 --window 64

defmodule Remote.Owner do
  @moduledoc "The table's owner on node b, as cachet's owner actor."
  use GenServer

  @impl true
  def init(n) do
    tab = :ets.new(:remote_bench, [:set, :protected, :named_table, {:read_concurrency, true}])
    for k <- 0..(n - 1), do: :ets.insert(tab, {k, k})
    {:ok, tab}
  end

  @impl true
  def handle_call({:get, k}, _from, tab), do: {:reply, :ets.lookup(tab, k), tab}
end

defmodule Remote do
  # One call in @sample is timed (cachet's latency_sample); the clock is
  # read between batches of @batch calls.
  @sample 8
  @batch 16
  @seq_len 65536

  def main(["serve" | argv]) do
    {o, _, _} = OptionParser.parse(argv, strict: [keys: :integer])
    {:ok, _} = GenServer.start(Remote.Owner, Keyword.get(o, :keys, 1000), name: :remote_bench)
    IO.puts("ready")
    wait_eof()
  end

  def main(["measure" | argv]) do
    {o, _, _} =
      OptionParser.parse(argv,
        strict: [peer: :string, keys: :integer, seconds: :string, warmup: :string,
                 repeats: :integer, window: :integer]
      )

    peer = String.to_atom(Keyword.fetch!(o, :peer))
    nkeys = Keyword.get(o, :keys, 1000)
    window = Keyword.get(o, :window, 64)
    timing = %{seconds: num(Keyword.get(o, :seconds, "0.5")),
               warmup: num(Keyword.get(o, :warmup, "0.125"))}
    repeats = Keyword.get(o, :repeats, 3)
    true = Node.connect(peer)

    emit(%{
      kind: "system",
      otp_release: List.to_string(:erlang.system_info(:otp_release)),
      erts_version: List.to_string(:erlang.system_info(:version))
    })

    server = {:remote_bench, peer}
    [{0, 0}] = GenServer.call(server, {:get, 0})
    call = fn k -> [{_, _}] = GenServer.call(server, {:get, k}) end
    erpc = fn k -> [{_, _}] = :erpc.call(peer, :ets, :lookup, [:remote_bench, k]) end

    cases =
      for c <- [1, 2] do
        [{"beam_dist_genserver_call", "GenServer.call({name, node b})", c, {:calls, call}},
         {"beam_dist_erpc", ":erpc.call(node b, :ets, :lookup, ...)", c, {:calls, erpc}}]
      end
      |> List.flatten()
      |> Kernel.++([{"beam_dist_pipelined", ":gen_server.send_request, #{window} in flight", 1,
                     {:pipelined, server, window}}])

    seqs = for i <- 0..1, do: key_sequence(nkeys, i + 1)
    n = length(cases)

    # Repeats interleave the cases, each repeat starting one case later.
    runs =
      for rep <- 0..(repeats - 1), j <- 0..(n - 1), reduce: %{} do
        acc ->
          k = rem(j + rep, n)
          {_, _, callers, how} = Enum.at(cases, k)
          {rate, lat} = run_once(timing, Enum.take(seqs, callers), how)
          Map.update(acc, k, {[rate], lat}, fn {rs, ls} -> {[rate | rs], lat ++ ls} end)
      end

    for {{path, what, callers, _}, k} <- Enum.with_index(cases) do
      {rates, lat} = Map.fetch!(runs, k)
      sorted = Enum.sort(lat)
      row = %{kind: "remote", path: path, what: what, callers: callers,
              calls_per_sec: median(rates), runs: Enum.reverse(rates), errors: 0}
      row =
        if sorted == [],
          do: row,
          else: Map.merge(row, %{p50_us: pct(sorted, 0.5), p99_us: pct(sorted, 0.99),
                                 samples: length(sorted)})
      emit(row)
    end
  end

  # -- one timed run: a worker per sequence, each counting its own calls ------

  defp run_once(timing, seqs, how) do
    native = System.convert_time_unit(1, :second, :native)
    start = System.monotonic_time()
    warm_end = start + round(timing.warmup * native)
    stop_at = warm_end + round(timing.seconds * native)
    parent = self()

    pids =
      for {seq, i} <- Enum.with_index(seqs) do
        spawn_link(fn ->
          send(parent, {:done, self(), worker(how, seq, i * 7919, warm_end, stop_at, native)})
        end)
      end

    results = Enum.map(pids, fn pid -> receive do {:done, ^pid, r} -> r end end)
    {results |> Enum.map(&elem(&1, 0)) |> Enum.sum(),
     results |> Enum.flat_map(&elem(&1, 1))}
  end

  defp worker({:calls, op}, seq, pos, warm_end, stop_at, native) do
    {pos, _, _} = spin(op, seq, pos, 0, [], warm_end, false)
    t0 = System.monotonic_time()
    {_, n, lat} = spin(op, seq, pos, 0, [], stop_at, true)
    t1 = System.monotonic_time()
    {n * native / max(t1 - t0, 1), lat}
  end

  defp worker({:pipelined, server, window}, seq, pos, warm_end, stop_at, native) do
    q = Enum.reduce(1..window, :queue.new(), fn i, q -> :queue.in(request(server, seq, pos + i), q) end)
    {q, pos, _} = pipe(server, seq, q, pos + window, 0, warm_end)
    t0 = System.monotonic_time()
    {q, _, n} = pipe(server, seq, q, pos, 0, stop_at)
    t1 = System.monotonic_time()
    drain(q)
    {n * native / max(t1 - t0, 1), []}
  end

  # Calls in batches until `deadline`; times one call in @sample if `timed`.
  defp spin(op, seq, pos, n, lat, deadline, timed) do
    {pos, lat} = batch(op, seq, pos, n, lat, timed, @batch)
    n = n + @batch
    if System.monotonic_time() >= deadline,
      do: {pos, n, lat},
      else: spin(op, seq, pos, n, lat, deadline, timed)
  end

  defp batch(_op, _seq, pos, _n, lat, _timed, 0), do: {pos, lat}

  defp batch(op, seq, pos, n, lat, timed, left) do
    k = elem(seq, rem(pos, @seq_len))
    lat =
      if timed and rem(n + @batch - left, @sample) == 0 do
        t0 = System.monotonic_time()
        op.(k)
        us = System.convert_time_unit(System.monotonic_time() - t0, :native, :nanosecond) / 1000
        [us | lat]
      else
        op.(k)
        lat
      end

    batch(op, seq, pos + 1, n, lat, timed, left - 1)
  end

  # Waits for the oldest request, sends the next, until `deadline`.
  defp pipe(server, seq, q, pos, n, deadline) do
    {{:value, id}, q} = :queue.out(q)
    {:reply, [{_, _}]} = :gen_server.receive_response(id, 5000)
    q = :queue.in(request(server, seq, pos), q)
    n = n + 1
    if rem(n, @batch) == 0 and System.monotonic_time() >= deadline,
      do: {q, pos + 1, n},
      else: pipe(server, seq, q, pos + 1, n, deadline)
  end

  defp request(server, seq, pos),
    do: :gen_server.send_request(server, {:get, elem(seq, rem(pos, @seq_len))})

  defp drain(q) do
    case :queue.out(q) do
      {{:value, id}, q} ->
        {:reply, _} = :gen_server.receive_response(id, 5000)
        drain(q)

      {:empty, _} ->
        :ok
    end
  end

  # -- inputs and output ---------------------------------------------------------

  defp key_sequence(nkeys, seed) do
    :rand.seed(:exsss, {seed, seed * 7, seed * 13})
    List.to_tuple(for _ <- 1..@seq_len, do: :rand.uniform(nkeys) - 1)
  end

  defp wait_eof do
    case IO.read(:stdio, :line) do
      :eof -> :ok
      {:error, _} -> :ok
      _ -> wait_eof()
    end
  end

  defp num(s) do
    {x, _} = Float.parse(s)
    x
  end

  defp median(xs) do
    s = Enum.sort(xs)
    n = length(s)
    if rem(n, 2) == 1, do: Enum.at(s, div(n, 2)), else: (Enum.at(s, div(n, 2) - 1) + Enum.at(s, div(n, 2))) / 2
  end

  # Nearest rank, as cachet's percentile().
  defp pct(sorted, q) do
    n = length(sorted)
    Enum.at(sorted, min(trunc(q * n), n - 1))
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

Remote.main(System.argv())
