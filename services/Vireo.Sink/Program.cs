using Microsoft.AspNetCore.Builder;
using Vireo.ServiceDefaults;
using Vireo.Sink;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddVireoSink();
var app = builder.Build();
app.MapDefaultEndpoints();
await app.RunAsync();
