using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Duplex.Handshake.Rules;

/// <summary>
/// Response header fields as a read-only dictionary of case-insensitive names to their values, in
/// the order they arrived, stored as two flat arrays.
/// </summary>
/// <remarks>
/// An open connection keeps its handshake response (and so these headers) for its whole life, so
/// they are stored compactly — one name and one value per field line — rather than as a
/// dictionary of lists. A handshake response has a handful of fields, so lookups scan; the value
/// lists are made when asked for. Immutable and therefore thread-safe.
/// </remarks>
internal sealed class ResponseHeaders : IReadOnlyDictionary<string, IReadOnlyList<string>>
{
    /// <summary>Headers with no fields.</summary>
    public static readonly ResponseHeaders Empty = new([], []);

    private readonly string[] _names;
    private readonly string[] _values;
    private readonly int _count;

    /// <summary>Creates the headers from parallel arrays of field names and values, one entry per field line.</summary>
    /// <param name="names">The field names, as received; owned by the instance from now on.</param>
    /// <param name="values">The field values, in the same order; owned by the instance from now on.</param>
    public ResponseHeaders(string[] names, string[] values)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(values);
        if (names.Length != values.Length)
        {
            throw new ArgumentException("Every name needs a value.", nameof(values));
        }

        _names = names;
        _values = values;
        foreach (string name in Keys)
        {
            _count++;
        }
    }

    /// <summary>The number of distinct names.</summary>
    public int Count => _count;

    /// <summary>The distinct names, each spelled as it first arrived, in order of arrival.</summary>
    public IEnumerable<string> Keys
    {
        get
        {
            // A hostile server may send thousands of fields (up to the header limit): past a few,
            // remember the names seen rather than search for each.
            HashSet<string>? seen = _names.Length > 16 ? new(StringComparer.OrdinalIgnoreCase) : null;
            for (int i = 0; i < _names.Length; i++)
            {
                if (seen is null ? IndexOf(_names[i]) == i : seen.Add(_names[i]))
                {
                    yield return _names[i];
                }
            }
        }
    }

    /// <summary>The values of each distinct name, in the order of <see cref="Keys"/>.</summary>
    public IEnumerable<IReadOnlyList<string>> Values
    {
        get
        {
            foreach (string name in Keys)
            {
                yield return this[name];
            }
        }
    }

    /// <summary>The values of the fields named <paramref name="key"/> (compared case-insensitively), in order.</summary>
    /// <exception cref="KeyNotFoundException">No field has that name.</exception>
    public IReadOnlyList<string> this[string key] =>
        TryGetValue(key, out IReadOnlyList<string>? values) ? values : throw new KeyNotFoundException($"The response has no '{key}' header.");

    /// <inheritdoc />
    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    /// <inheritdoc />
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out IReadOnlyList<string> value)
    {
        ArgumentNullException.ThrowIfNull(key);
        int first = IndexOf(key);
        if (first < 0)
        {
            value = null;
            return false;
        }

        int matches = 0;
        for (int i = first; i < _names.Length; i++)
        {
            if (_names[i].Equals(key, StringComparison.OrdinalIgnoreCase))
            {
                matches++;
            }
        }

        var values = new string[matches];
        for (int i = first, j = 0; j < matches; i++)
        {
            if (_names[i].Equals(key, StringComparison.OrdinalIgnoreCase))
            {
                values[j++] = _values[i];
            }
        }

        value = values;
        return true;
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, IReadOnlyList<string>>> GetEnumerator()
    {
        foreach (string name in Keys)
        {
            yield return new KeyValuePair<string, IReadOnlyList<string>>(name, this[name]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string name)
    {
        for (int i = 0; i < _names.Length; i++)
        {
            if (_names[i].Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }
}
