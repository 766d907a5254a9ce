using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>The Python <c>websockets</c> peer.</summary>
public sealed class PythonInteropTests(PythonPeerFixture fixture)
    : PeerInteropTests(fixture), IClassFixture<PythonPeerFixture>
{
    /// <summary>The peer is started without a list of subprotocols, so it ignores the offer and selects none.</summary>
    protected override string? ExpectedSubProtocol => null;

    /// <summary>websockets answers a Close at once; echoes its handler had not sent yet are dropped.</summary>
    protected override bool EchoesBeforeAnsweringClose => false;
}
