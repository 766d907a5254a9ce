using System.Text;
using System.Text.Json;

namespace Duplex.Cli.Connect;

/// <summary>
/// Turns input lines into JSON-RPC 2.0 requests with increasing ids: <c>method</c> or
/// <c>method params</c>, where params is a JSON array or object (<c>sum [1, 2]</c>,
/// <c>get {"key": "a"}</c>).
/// </summary>
/// <remarks>Not thread-safe: one input loop uses it.</remarks>
internal sealed class JsonRpcRequests
{
    private long _nextId = 1;

    /// <summary>Wraps a line, or says why it cannot be.</summary>
    public bool TryWrap(string line, out string request, out string? problem)
    {
        request = "";
        problem = null;
        string trimmed = line.Trim();
        int space = trimmed.IndexOfAny([' ', '\t']);
        string method = space < 0 ? trimmed : trimmed[..space];
        string parameters = space < 0 ? "" : trimmed[(space + 1)..].Trim();
        if (method.Length == 0)
        {
            problem = "a JSON-RPC line is `method [params]`";
            return false;
        }

        JsonDocument? document = null;
        if (parameters.Length > 0)
        {
            try
            {
                document = JsonDocument.Parse(parameters);
            }
            catch (JsonException ex)
            {
                problem = $"the params are not JSON ({ex.Message})";
                return false;
            }

            if (document.RootElement.ValueKind is not (JsonValueKind.Array or JsonValueKind.Object))
            {
                document.Dispose();
                problem = "JSON-RPC params must be an array or an object";
                return false;
            }
        }

        using (document)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("jsonrpc", "2.0");
                writer.WriteNumber("id", _nextId++);
                writer.WriteString("method", method);
                if (document is not null)
                {
                    writer.WritePropertyName("params");
                    document.RootElement.WriteTo(writer);
                }

                writer.WriteEndObject();
            }

            request = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            return true;
        }
    }
}
