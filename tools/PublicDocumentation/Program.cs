// Build step of the packable projects (src/PublicDocumentation.targets): the compiler documents every
// member that has a /// comment, internal ones too, and has no switch to keep only the public API.
// Usage: PublicDocumentation <assembly.dll> <assembly.xml>
using PublicDocumentation;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: PublicDocumentation <assembly.dll> <documentation.xml>");
    return 2;
}

int removed = PublicDocumentation.PublicDocumentation.Filter(args[0], args[1]);
Console.WriteLine($"PublicDocumentation: {removed} member(s) outside the public API removed from {Path.GetFileName(args[1])}.");
return 0;
