using System.Net.WebSockets;
using System.Text;

namespace Duplex.Tests.Infrastructure;

/// <summary>Whole-message send and receive on a BCL <see cref="WebSocket"/>, for infrastructure tests and peers.</summary>
public static class WebSocketMessages
{
    /// <summary>Sends <paramref name="text"/> as one text message.</summary>
    public static ValueTask SendTextAsync(this WebSocket webSocket, string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(webSocket);
        return webSocket.SendAsync(Encoding.UTF8.GetBytes(text).AsMemory(), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
    }

    /// <summary>Sends <paramref name="payload"/> as one binary message.</summary>
    public static ValueTask SendBinaryAsync(this WebSocket webSocket, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(webSocket);
        return webSocket.SendAsync(payload, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
    }

    /// <summary>
    /// Receives frames until one whole message (at most <paramref name="maxBytes"/>) or a close arrives.
    /// </summary>
    /// <exception cref="InvalidDataException">The message is larger than <paramref name="maxBytes"/>.</exception>
    public static async Task<ReceivedMessage> ReceiveMessageAsync(
        this WebSocket webSocket, CancellationToken cancellationToken, int maxBytes = 64 * 1024 * 1024)
    {
        ArgumentNullException.ThrowIfNull(webSocket);
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await webSocket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return new ReceivedMessage(
                    WebSocketMessageType.Close, [], webSocket.CloseStatus, webSocket.CloseStatusDescription);
            }

            if (message.Length + result.Count > maxBytes)
            {
                throw new InvalidDataException($"The message is larger than {maxBytes} bytes.");
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return new ReceivedMessage(result.MessageType, message.ToArray());
            }
        }
    }
}
