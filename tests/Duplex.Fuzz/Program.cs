using SharpFuzz;

namespace Duplex.Fuzz;

/// <summary>
/// The fuzzing harness. <c>Duplex.Fuzz &lt;target&gt;</c> runs under afl-fuzz (SharpFuzz's AFL mode,
/// the input on standard input); <c>Duplex.Fuzz &lt;target&gt; &lt;file or folder&gt;…</c> replays
/// inputs without AFL and prints the failure of each one that crashes; <c>Duplex.Fuzz seeds
/// &lt;folder&gt;</c> writes the seed corpus. See README.md and run.sh.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args is ["seeds", string folder])
        {
            SeedCorpus.Write(folder);
            return 0;
        }

        if (args.Length == 0 || FuzzTarget.Find(args[0]) is not { } target)
        {
            Console.Error.WriteLine($"usage: Duplex.Fuzz <target> [input file or folder…] | seeds <folder>; targets: {string.Join(", ", FuzzTarget.All.Select(t => t.Name))}");
            return 2;
        }

        if (args.Length == 1)
        {
            // An exception escaping the action is reported to afl-fuzz as a crash; a run that does
            // not return within afl-fuzz's -t limit, as a hang.
            Fuzzer.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                target.Run(buffer.ToArray());
            });
            return 0;
        }

        return Replay(target, args[1..]);
    }

    private static int Replay(FuzzTarget target, string[] paths)
    {
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]).ToList();
        int crashes = 0;
        foreach (string file in files)
        {
            try
            {
                target.Run(File.ReadAllBytes(file));
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                crashes++;
                Console.WriteLine($"CRASH {file}: {exception}");
            }
        }

        Console.WriteLine($"{target.Name}: {files.Count} inputs replayed, {crashes} crashed");
        return crashes == 0 ? 0 : 1;
    }
}
