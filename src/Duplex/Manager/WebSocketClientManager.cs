using System.Net.WebSockets;
using Duplex.Client;

namespace Duplex.Manager;

/// <summary>
/// A registry of named <see cref="WebSocketClient"/>s: create them, connect them all, see each one's
/// state, close them all. Each client keeps its own connection, reconnects and handlers.
/// </summary>
/// <remarks>Thread safety: every member may be called from any number of threads at once.</remarks>
public sealed class WebSocketClientManager : IAsyncDisposable
{
    private readonly object _lock = new();
    private readonly Dictionary<string, Entry> _clients = new(StringComparer.Ordinal);
    private readonly Func<WebSocketClientOptions>? _defaultOptions;
    private bool _disposed;

    /// <summary>Creates an empty manager.</summary>
    /// <param name="defaultOptions">
    /// Produces the options of clients created without their own; null for the defaults. Called once
    /// per client, so each gets its own options object.
    /// </param>
    public WebSocketClientManager(Func<WebSocketClientOptions>? defaultOptions = null)
    {
        _defaultOptions = defaultOptions;
    }

    /// <summary>The names of the clients, in no particular order.</summary>
    public IReadOnlyCollection<string> Names
    {
        get
        {
            lock (_lock)
            {
                return [.. _clients.Keys];
            }
        }
    }

    /// <summary>The client with this name.</summary>
    /// <param name="name">The name given to <see cref="CreateClient"/>.</param>
    /// <exception cref="KeyNotFoundException">No client has that name.</exception>
    public WebSocketClient this[string name]
    {
        get
        {
            lock (_lock)
            {
                return _clients.TryGetValue(name, out Entry? entry)
                    ? entry.Client
                    : throw new KeyNotFoundException($"No client is named '{name}'.");
            }
        }
    }

    /// <summary>
    /// Creates a named client for <paramref name="uri"/> without connecting it (see <see cref="ConnectAllAsync"/>,
    /// or call <see cref="WebSocketClient.ConnectAsync(Uri, IReadOnlyDictionary{string, string}?, Handshake.WebSocketTlsOptions?, CancellationToken)"/> on it).
    /// </summary>
    /// <param name="name">A unique name.</param>
    /// <param name="uri">The server the client connects to.</param>
    /// <param name="headers">Headers for its opening handshakes, or null.</param>
    /// <param name="options">Its options; null to use the manager's default.</param>
    /// <returns>The new client, owned by the manager.</returns>
    /// <exception cref="ArgumentException">The name is empty or already taken.</exception>
    public WebSocketClient CreateClient(string name, Uri uri, IReadOnlyDictionary<string, string>? headers = null, WebSocketClientOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(uri);
        var client = new WebSocketClient(options ?? _defaultOptions?.Invoke());
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_clients.ContainsKey(name))
            {
                client.Dispose();
                throw new ArgumentException($"A client named '{name}' already exists.", nameof(name));
            }

            _clients.Add(name, new Entry(client, uri, headers));
        }

        return client;
    }

    /// <summary>Gets the client with this name, if there is one.</summary>
    /// <param name="name">The client's name.</param>
    /// <param name="client">The client, when found.</param>
    public bool TryGetClient(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out WebSocketClient? client)
    {
        lock (_lock)
        {
            bool found = _clients.TryGetValue(name, out Entry? entry);
            client = entry?.Client;
            return found;
        }
    }

    /// <summary>Closes and removes a client.</summary>
    /// <param name="name">The client's name.</param>
    /// <returns>False when no client has that name.</returns>
    public async Task<bool> RemoveClientAsync(string name)
    {
        Entry? entry;
        lock (_lock)
        {
            if (!_clients.Remove(name, out entry))
            {
                return false;
            }
        }

        await entry.Client.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Connects every client that is not connected or connecting, all at once, each under its own
    /// options, and waits until each one's connect has ended.
    /// </summary>
    /// <remarks>
    /// <para>A client whose options set <see cref="WebSocketReconnectOptions.RetryFirstConnect"/>
    /// retries transient failures under its reconnect policy, so its entry is ready once it has
    /// connected, met a cause not worth retrying (401, 403, TLS…), or used up its
    /// <see cref="WebSocketReconnectOptions.MaxAttempts"/> or
    /// <see cref="WebSocketReconnectOptions.MaxElapsedTime"/>. With neither limit set and a server
    /// that stays down, that is when the server comes up: bound the wait with
    /// <paramref name="cancellationToken"/>.</para>
    /// <para>For such clients the token bounds the wait, not the connect: when it is cancelled, this
    /// throws <see cref="OperationCanceledException"/> and they go on trying in the background
    /// (<see cref="WebSocketClient.State"/> reads Connecting or Disconnected,
    /// <see cref="WebSocketClient.IsReconnecting"/> is true, their connect handlers run when they get
    /// through, <see cref="CloseAllAsync(WebSocketCloseStatus, string?, CancellationToken)"/> stops
    /// them). A later call waits for the connect they are still making. The connects of other
    /// clients are cancelled with the token, and those clients are left Closed.</para>
    /// </remarks>
    /// <param name="cancellationToken">Stops waiting (see remarks for what it cancels).</param>
    /// <returns>
    /// Each client's outcome by name: null when it is connected (or was connected or connecting
    /// already), otherwise why it failed (the same typed exceptions as
    /// <see cref="WebSocketClient.ConnectAsync(Uri, IReadOnlyDictionary{string, string}?, Handshake.WebSocketTlsOptions?, CancellationToken)"/>;
    /// for a client that retried, the cause of its last attempt). One failure does not stop the others.
    /// </returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<IReadOnlyDictionary<string, Exception?>> ConnectAllAsync(CancellationToken cancellationToken = default)
    {
        KeyValuePair<string, Entry>[] entries = Snapshot();
        Task<Exception?>[] connects = entries.Select(e => ConnectOneAsync(e.Value, cancellationToken)).ToArray();
        Exception?[] outcomes = await Task.WhenAll(connects).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        var results = new Dictionary<string, Exception?>(StringComparer.Ordinal);
        for (int i = 0; i < entries.Length; i++)
        {
            results[entries[i].Key] = outcomes[i];
        }

        return results;
    }

    /// <summary>Each client's state by name.</summary>
    public IReadOnlyDictionary<string, WebSocketClientState> ListClients()
    {
        var states = new Dictionary<string, WebSocketClientState>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, Entry> entry in Snapshot())
        {
            states[entry.Key] = entry.Value.Client.State;
        }

        return states;
    }

    /// <summary>Closes every client with status 1000 (normal closure); see <see cref="CloseAllAsync(WebSocketCloseStatus, string?, CancellationToken)"/>.</summary>
    /// <param name="cancellationToken">Stops waiting; the closes go on.</param>
    public Task CloseAllAsync(CancellationToken cancellationToken) =>
        CloseAllAsync(WebSocketCloseStatus.NormalClosure, statusDescription: null, cancellationToken);

    /// <summary>Closes every client (closing handshakes run in parallel); they stay registered and can connect again.</summary>
    /// <param name="closeStatus">The close code sent by each client.</param>
    /// <param name="statusDescription">The reason sent by each client.</param>
    /// <param name="cancellationToken">Stops waiting; the closes go on.</param>
    public Task CloseAllAsync(WebSocketCloseStatus closeStatus = WebSocketCloseStatus.NormalClosure, string? statusDescription = null, CancellationToken cancellationToken = default) =>
        Task.WhenAll(Snapshot().Select(e => e.Value.Client.CloseAsync(closeStatus, statusDescription, cancellationToken)));

    /// <summary>Closes and disposes every client. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        KeyValuePair<string, Entry>[] entries;
        lock (_lock)
        {
            _disposed = true;
            entries = [.. _clients];
            _clients.Clear();
        }

        await Task.WhenAll(entries.Select(e => e.Value.Client.DisposeAsync().AsTask())).ConfigureAwait(false);
    }

    private async Task<Exception?> ConnectOneAsync(Entry entry, CancellationToken cancellationToken)
    {
        Task? connect = null;
        TaskCompletionSource? background = null;
        lock (_lock)
        {
            if (entry.BackgroundConnect is { IsCompleted: false } running)
            {
                // A first connect that goes on retrying from an earlier call: wait for it.
                connect = running;
            }
            else if (entry.Client.State is not WebSocketClientState.Closed)
            {
                return null;
            }
            else if (entry.Client.RetriesFirstConnect)
            {
                background = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                entry.BackgroundConnect = background.Task;
                connect = background.Task;
            }
        }

        if (background is not null)
        {
            // Started outside the lock (the connect raises StateChanged), and not tied to the caller's
            // token: the client keeps trying when the caller stops waiting.
            _ = RunBackgroundConnectAsync(entry, background);
        }

        try
        {
            await (connect ?? entry.Client.ConnectAsync(entry.Uri, entry.Headers, null, cancellationToken)).WaitAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is DuplexException or ArgumentException or InvalidOperationException or OperationCanceledException)
        {
            return ex;
        }
    }

    /// <summary>
    /// A connect that runs until it ends by itself (connected, failed for good, or the client closed),
    /// its outcome handed to <paramref name="done"/>, which is always observed: the caller may have
    /// stopped waiting (the client's error handlers and log have the failures).
    /// </summary>
    private static async Task RunBackgroundConnectAsync(Entry entry, TaskCompletionSource done)
    {
        _ = done.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await entry.Client.ConnectAsync(entry.Uri, entry.Headers, null, CancellationToken.None).ConfigureAwait(false);
            done.TrySetResult();
        }
#pragma warning disable CA1031 // Every outcome goes to whoever waits for it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            done.TrySetException(ex);
        }
    }

    private KeyValuePair<string, Entry>[] Snapshot()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return [.. _clients];
        }
    }

    private sealed record Entry(WebSocketClient Client, Uri Uri, IReadOnlyDictionary<string, string>? Headers)
    {
        /// <summary>The connect of a client that retries its first connect, while it may outlive a ConnectAllAsync; guarded by the manager's lock.</summary>
        public Task? BackgroundConnect { get; set; }
    }
}
