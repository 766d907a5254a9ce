using System.Diagnostics;
using System.Globalization;
using Duplex.Client;

namespace Duplex.Chaos;

/// <summary>
/// Concurrent senders, each sending numbered messages (<c>{sender}:{seq}:{padding}</c>) through one client
/// one after another with a short pause between, recording every send's outcome and how long it waited.
/// </summary>
/// <remarks>
/// A send that has not returned counts in <see cref="LongestSend"/> with the time it has waited so far, so
/// a send that never returns shows. Outcomes are written by their sender only and read once the senders
/// have stopped (or, for a report on senders that never stopped, approximately).
/// </remarks>
internal sealed class SenderPool
{
    private readonly WebSocketClient _client;
    private readonly TimeSpan _interval;
    private readonly long _budget;
    private readonly string _padding;
    private readonly List<MessageOutcome>[] _outcomes;
    private readonly long[] _sendStarted;
    private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly HashSet<(int Sender, long Sequence)> _dropped = [];
    private readonly Task[] _loops;
    private long _issued;
    private long _accepted;
    private long _failed;
    private long _longestTicks;
    private volatile bool _stopping;

    public SenderPool(WebSocketClient client, int senders, TimeSpan interval, long budget, int padding)
    {
        _client = client;
        _interval = interval;
        _budget = budget;
        _padding = new string('x', padding);
        _outcomes = Enumerable.Range(0, senders).Select(_ => new List<MessageOutcome>()).ToArray();
        _sendStarted = new long[senders];
        _loops = new Task[senders];
    }

    public int Senders => _outcomes.Length;

    /// <summary>How many sends have completed so far.</summary>
    public long AcceptedCount => Interlocked.Read(ref _accepted);

    /// <summary>How many sends have thrown so far.</summary>
    public long FailedCount => Interlocked.Read(ref _failed);

    /// <summary>Whether every message of the budget has been handed out.</summary>
    public bool BudgetSpent => Interlocked.Read(ref _issued) >= _budget;

    /// <summary>How many sends are waiting right now.</summary>
    public int InFlight
    {
        get
        {
            int waiting = 0;
            for (int i = 0; i < _sendStarted.Length; i++)
            {
                waiting += Volatile.Read(ref _sendStarted[i]) != 0 ? 1 : 0;
            }

            return waiting;
        }
    }

    /// <summary>The longest any send has waited, including those still waiting.</summary>
    public TimeSpan LongestSend
    {
        get
        {
            long longest = Interlocked.Read(ref _longestTicks);
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < _sendStarted.Length; i++)
            {
                long started = Volatile.Read(ref _sendStarted[i]);
                if (started != 0)
                {
                    longest = Math.Max(longest, now - started);
                }
            }

            return Stopwatch.GetElapsedTime(0, longest);
        }
    }

    /// <summary>Send failures by exception type.</summary>
    public IReadOnlyDictionary<string, int> Failures
    {
        get
        {
            lock (_failures)
            {
                return new Dictionary<string, int>(_failures, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>The messages <see cref="WebSocketClientOptions.MessageDropped"/> reported.</summary>
    public IReadOnlySet<(int Sender, long Sequence)> Dropped
    {
        get
        {
            lock (_dropped)
            {
                return new HashSet<(int, long)>(_dropped);
            }
        }
    }

    public int DroppedReports { get; private set; }

    /// <summary>The outcomes of <paramref name="sender"/>'s messages; index = sequence number − 1.</summary>
    public IReadOnlyList<MessageOutcome> OutcomesOf(int sender) => _outcomes[sender];

    public static int FrameLength(int payloadLength) => payloadLength + 4 + (payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10);

    /// <summary>The text of message <paramref name="sequence"/> of <paramref name="sender"/>.</summary>
    public string Format(int sender, long sequence) => string.Create(CultureInfo.InvariantCulture, $"{sender}:{sequence}:{_padding}");

    public void Start()
    {
        for (int i = 0; i < _loops.Length; i++)
        {
            int sender = i;
            _loops[i] = Task.Run(() => SendLoopAsync(sender));
        }
    }

    /// <summary>Asks every sender to stop after its current send.</summary>
    public void Stop() => _stopping = true;

    /// <summary>Blocks (without needing the thread pool) until every sender has stopped, or the timeout.</summary>
    public bool WaitStopped(TimeSpan timeout) => Task.WaitAll(_loops, timeout);

    /// <summary>For <see cref="WebSocketClientOptions.MessageDropped"/>.</summary>
    public void OnDropped(WebSocketOutgoingMessage message)
    {
        string? text = message.Text ?? (message.Data.IsEmpty ? null : System.Text.Encoding.UTF8.GetString(message.Data.Span));
        lock (_dropped)
        {
            DroppedReports++;
            if (text is not null && RecordingServer.TryParse(System.Text.Encoding.UTF8.GetBytes(text), out int sender, out long sequence))
            {
                _dropped.Add((sender, sequence));
            }
        }
    }

    private async Task SendLoopAsync(int sender)
    {
        List<MessageOutcome> outcomes = _outcomes[sender];
        long sequence = 0;
        while (!_stopping && Interlocked.Increment(ref _issued) <= _budget)
        {
            sequence++;
            string text = Format(sender, sequence);
            outcomes.Add(MessageOutcome.Pending);
            long started = Stopwatch.GetTimestamp();
            Volatile.Write(ref _sendStarted[sender], started);
            try
            {
                await _client.SendTextAsync(text);
                outcomes[^1] = MessageOutcome.Accepted;
                Interlocked.Increment(ref _accepted);
            }
            catch (Exception ex) when (ex is DuplexException or InvalidOperationException or ObjectDisposedException)
            {
                outcomes[^1] = MessageOutcome.Failed;
                Interlocked.Increment(ref _failed);
                lock (_failures)
                {
                    _failures[ex.GetType().Name] = _failures.GetValueOrDefault(ex.GetType().Name) + 1;
                }
            }
            finally
            {
                long waited = Stopwatch.GetTimestamp() - started;
                Volatile.Write(ref _sendStarted[sender], 0);
                long longest;
                while (waited > (longest = Interlocked.Read(ref _longestTicks)) && Interlocked.CompareExchange(ref _longestTicks, waited, longest) != longest)
                {
                }
            }

            await Task.Delay(_interval);
        }
    }
}
