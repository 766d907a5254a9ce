using Duplex.Samples;

// Runs the samples against a local embedded server: all of them, or the ones named on the command line
// (connection, basic, one-call, custom, tls).
var samples = new (string Name, string Title, Func<SampleServer, CancellationToken, Task> Run)[]
{
    ("connection", "Connection layer: headers, text, binary, ping, close", ConnectionSample.RunAsync),
    ("basic", "Client with headers and the four handlers", BasicClientSample.RunAsync),
    ("one-call", "Create and connect in one call", OneCallSample.RunAsync),
    ("custom", "Subclass with authentication, statistics and a reconnect", CustomClientSample.RunAsync),
    ("tls", "TLS with a private CA and a client certificate", TlsSample.RunAsync),
};

string[] chosen = args.Length > 0 ? args : samples.Select(s => s.Name).ToArray();
string[] unknown = chosen.Except(samples.Select(s => s.Name)).ToArray();
if (unknown.Length > 0)
{
    Console.Error.WriteLine($"unknown sample(s): {string.Join(", ", unknown)}; choose from {string.Join(", ", samples.Select(s => s.Name))}");
    return 2;
}

await using SampleServer server = await SampleServer.StartAsync();
Console.WriteLine($"embedded server: ws://127.0.0.1:{server.HttpPort}, wss://localhost:{server.HttpsPort}");
foreach (var sample in samples.Where(s => chosen.Contains(s.Name)))
{
    Console.WriteLine($"== {sample.Name}: {sample.Title}");
    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
    await sample.Run(server, timeout.Token);
}

Console.WriteLine("all samples done");
return 0;
