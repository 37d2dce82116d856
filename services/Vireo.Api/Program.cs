using Microsoft.AspNetCore.Builder;
using Vireo.Api;
using Vireo.ServiceDefaults;

// The viewer's files lie beside the binaries, wherever the process is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddServiceDefaults();
builder.AddVireoApi();
var app = builder.Build();
app.UseVireoApi();
app.MapDefaultEndpoints();
app.MapVireoApi();
await app.RunAsync();
