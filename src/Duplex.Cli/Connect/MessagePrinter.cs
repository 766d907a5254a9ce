using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using Duplex.Cli.Output;
using Duplex.Client;
using Spectre.Console;
using Spectre.Console.Json;

namespace Duplex.Cli.Connect;

/// <summary>
/// Prints the messages of a <c>duplex connect</c> session on standard output, each with its time and
/// direction (<c>&gt;</c> sent, <c>&lt;</c> received) unless <c>--raw</c>; JSON pretty-printed with
/// <c>--json</c>; binary as hex or base64. Status lines (connected, lost, reconnecting) go to
/// standard error, so that standard output holds the conversation alone.
/// </summary>
internal sealed class MessagePrinter
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    private readonly Terminal _terminal;
    private readonly ConnectSettings _settings;
    private readonly BinaryFormat _binaryFormat;

    public MessagePrinter(Terminal terminal, ConnectSettings settings)
    {
        _terminal = terminal;
        _settings = settings;
        _binaryFormat = settings.Binary ?? BinaryFormat.Hex;
    }

    public void Received(WebSocketClientMessage message)
    {
        string body;
        JsonElement? json = null;
        if (message.MessageType == WebSocketMessageType.Binary)
        {
            body = $"[binary {message.Data.Length} bytes] {BinaryText.Encode(message.Data.Span, _binaryFormat)}";
            if (_settings.Raw)
            {
                body = BinaryText.Encode(message.Data.Span, _binaryFormat, int.MaxValue);
            }
        }
        else
        {
            body = message.Text ?? "";
            if (_settings.Json && TryParseJson(body, out JsonElement parsed))
            {
                json = parsed;
            }
        }

        if (json is { } element)
        {
            PrintJson("<", element);
        }
        else if (_settings.Raw)
        {
            _terminal.Text(body);
        }
        else
        {
            _terminal.Line($"[grey]{Now()}[/] [green]<[/] {Terminal.Escape(body)}");
        }
    }

    public void Sent(string text)
    {
        if (!_settings.Raw)
        {
            _terminal.Line($"[grey]{Now()}[/] [blue]>[/] {Terminal.Escape(text)}");
        }
    }

    public void SentBinary(ReadOnlySpan<byte> bytes)
    {
        if (!_settings.Raw)
        {
            _terminal.Line($"[grey]{Now()}[/] [blue]>[/] [[binary {bytes.Length} bytes]] {BinaryText.Encode(bytes, _binaryFormat)}");
        }
    }

    /// <summary>An answer to a command (<c>/ping</c>), on standard output.</summary>
    public void Reply(string markup) => _terminal.Line($"[grey]{Now()}[/] {markup}");

    /// <summary>A status line on standard error.</summary>
    public void Status(string markup) => _terminal.ErrorLine($"[grey]{Now()}[/] {markup}");

    private void PrintJson(string direction, JsonElement element)
    {
        string indented = JsonSerializer.Serialize(element, s_indented);
        if (_terminal.Styled)
        {
            if (!_settings.Raw)
            {
                _terminal.Line($"[grey]{Now()}[/] [green]{direction}[/]");
            }

            _terminal.Render(new JsonText(indented));
            _terminal.Text("");
        }
        else
        {
            _terminal.Text(_settings.Raw ? indented : $"{Now()} {direction} {indented}");
        }
    }

    private static bool TryParseJson(string text, out JsonElement element)
    {
        element = default;
        string trimmed = text.TrimStart();
        if (trimmed.Length == 0 || trimmed[0] is not ('{' or '['))
        {
            return false;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            element = document.RootElement.Clone();
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Now() => DateTime.Now.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
}
