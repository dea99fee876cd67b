/* Ovoz maps: the reports map (#report-map), the report form's location picker
   (#location-picker) and a petition's signatures by mahalla (#signature-map). Pages work
   without this script; it only adds the map. */
(function () {
  "use strict";
  if (!window.L) { return; }

  function centreOf(el) {
    var parts = (el.dataset.centre || "41.3,64.5").split(",").map(Number);
    return L.latLng(parts[0], parts[1]);
  }

  function escapeHtml(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  function baseMap(el) {
    var map = L.map(el, { center: centreOf(el), zoom: Number(el.dataset.zoom) || 12 });
    L.tileLayer(el.dataset.tiles, {
      maxZoom: 19,
      attribution: escapeHtml(el.dataset.attribution || "")
    }).addTo(map);
    return map;
  }

  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }

  /* The reports map: GeoJSON for the visible box, again after each move. */
  function reportsMap(el) {
    var map = baseMap(el);
    var layer = L.layerGroup().addTo(map);
    var pending = null;
    var timer = null;

    function clusterMarker(feature, latlng) {
      var p = feature.properties;
      var label = document.createElement("span");
      label.textContent = p.count;
      var size = p.count < 10 ? 44 : p.count < 1000 ? 52 : 60;
      var marker = L.marker(latlng, {
        icon: L.divIcon({ className: "map-cluster", html: label, iconSize: [size, size] })
      });
      marker.on("add", function () {
        marker.getElement().setAttribute("aria-label", p.label || String(p.count));
      });
      marker.on("click", function () {
        var b = p.bbox;
        var bounds = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
        if (map.getZoom() >= map.getMaxZoom()) { return; }
        map.fitBounds(bounds.pad(0.1), { maxZoom: Math.max(map.getZoom() + 1, 16) });
      });
      return marker;
    }

    function reportMarker(feature, latlng) {
      var p = feature.properties;
      var popup = document.createElement("div");
      var link = document.createElement("a");
      link.href = p.url;
      link.textContent = p.category_name + " №" + p.id;
      var status = document.createElement("p");
      status.className = "map-status";
      status.textContent = p.status_label;
      popup.appendChild(link);
      popup.appendChild(status);
      var name = p.category_name + " — " + p.status_label;
      return L.marker(latlng, { title: name, alt: name }).bindPopup(popup);
    }

    // Markers still in view are kept, not redrawn: an open popup (whose opening may have
    // moved the map) stays open, and keyboard focus stays where it was.
    var shown = {};

    function draw(collection) {
      var next = {};
      collection.features.forEach(function (feature) {
        var p = feature.properties;
        var c = feature.geometry.coordinates;
        var key = p.cluster ? "c" + p.bbox.join(",") + ":" + p.count : "r" + p.id;
        next[key] = shown[key] || (p.cluster ? clusterMarker : reportMarker)(
          feature, L.latLng(c[1], c[0])).addTo(layer);
      });
      Object.keys(shown).forEach(function (key) {
        if (!next[key]) { layer.removeLayer(shown[key]); }
      });
      shown = next;
    }

    function load() {
      var b = map.getBounds();
      // Leaflet's box may reach past the antimeridian when zoomed out; the API wants the world.
      var bbox = [clamp(b.getWest(), -180, 179.999), clamp(b.getSouth(), -90, 89.999),
                  clamp(b.getEast(), -179.999, 180), clamp(b.getNorth(), -89.999, 90)]
        .map(function (v) { return v.toFixed(5); }).join(",");
      var query = new URLSearchParams(el.dataset.query || "");
      query.set("bbox", bbox);
      query.set("zoom", String(map.getZoom()));
      if (pending) { pending.abort(); }
      pending = window.AbortController ? new AbortController() : null;
      fetch(el.dataset.geojson + "?" + query.toString(), {
        signal: pending ? pending.signal : undefined,
        headers: { Accept: "application/geo+json" }
      }).then(function (response) {
        if (!response.ok) { throw new Error("map data: HTTP " + response.status); }
        return response.json();
      }).then(draw).catch(function (error) {
        if (error.name !== "AbortError" && window.console) { console.warn(error); }
      });
    }

    map.on("moveend", function () {
      clearTimeout(timer);
      timer = setTimeout(load, 250);
    });
    load();
  }

  /* The location picker: one draggable pin that fills the form's lat and lon. */
  function locationPicker(el) {
    var form = el.closest("form");
    var lat = form && form.querySelector("input[name=lat]");
    var lon = form && form.querySelector("input[name=lon]");
    if (!lat || !lon) { return; }
    var category = form.querySelector("select[name=category]");
    var locate = document.getElementById("use-my-location");
    var map = baseMap(el);
    var marker = null;

    function refreshNearby() {
      var url = form.dataset.nearbyUrl;
      if (!url || !window.htmx || !lat.value || !lon.value) { return; }
      var params = new URLSearchParams({
        category: category ? category.value : "", lat: lat.value, lon: lon.value
      });
      window.htmx.ajax("GET", url + "?" + params.toString(),
                       { target: "#nearby", swap: "innerHTML" });
    }

    function fill(latlng) {
      lat.value = latlng.lat.toFixed(6);
      lon.value = latlng.lng.toFixed(6);
      refreshNearby();
    }

    function pin(latlng) {
      if (marker) { marker.setLatLng(latlng); return; }
      marker = L.marker(latlng, { draggable: true, autoPan: true }).addTo(map);
      marker.on("dragend", function () { fill(marker.getLatLng()); });
    }

    function place(latlng) {
      pin(latlng);
      fill(latlng);
    }

    function typed() {
      var a = parseFloat(lat.value), b = parseFloat(lon.value);
      if (!(Math.abs(a) <= 90 && Math.abs(b) <= 180)) { return null; }
      pin(L.latLng(a, b));
      return marker.getLatLng();
    }

    // The form shown again after an error keeps its point (and its list of nearby reports).
    var kept = typed();
    if (kept) { map.setView(kept, Math.max(map.getZoom(), 16)); }

    map.on("click", function (event) { place(event.latlng); });
    [lat, lon].forEach(function (input) {
      input.addEventListener("change", function () {
        var moved = typed();
        if (moved) { map.panTo(moved); refreshNearby(); }
      });
    });
    if (category) { category.addEventListener("change", refreshNearby); }

    if (locate && navigator.geolocation) {
      locate.hidden = false;
      locate.addEventListener("click", function () {
        locate.disabled = true;
        navigator.geolocation.getCurrentPosition(function (position) {
          locate.disabled = false;
          var here = L.latLng(position.coords.latitude, position.coords.longitude);
          place(here);
          map.setView(here, Math.max(map.getZoom(), 16));
        }, function () {
          locate.disabled = false;
          // Refused or unknown: say so in the page's language, where a screen reader hears it.
          var status = document.getElementById("location-status");
          if (status) { status.textContent = locate.dataset.refused || ""; }
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    }
  }

  /* A petition's signatures by mahalla: a circle per mahalla, its area growing with the count;
     the table beside it carries the same figures for everyone. */
  function signatureMap(el) {
    var points = JSON.parse(el.dataset.points || "[]");
    if (!points.length) { return; }
    var map = baseMap(el);
    var most = Math.max.apply(null, points.map(function (p) { return p.signatures; }));
    var bounds = L.latLngBounds([]);
    points.forEach(function (p) {
      var at = L.latLng(p.lat, p.lon);
      bounds.extend(at);
      L.circleMarker(at, {
        radius: 6 + 24 * Math.sqrt(p.signatures / most),
        color: "#07402a", weight: 2, fillColor: "#0b5d3b", fillOpacity: 0.45
      }).bindTooltip(escapeHtml(p.name + ": " + p.signatures)).addTo(map);
    });
    map.fitBounds(bounds.pad(0.3), { maxZoom: 14 });
  }

  function start() {
    var map = document.getElementById("report-map");
    if (map) { reportsMap(map); }
    var signatures = document.getElementById("signature-map");
    if (signatures) { signatureMap(signatures); }
    var picker = document.getElementById("location-picker");
    if (picker) { locationPicker(picker); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
