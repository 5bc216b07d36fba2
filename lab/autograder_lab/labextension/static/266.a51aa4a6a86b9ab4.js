"use strict";(self.rspackChunkautograder_lab=self.rspackChunkautograder_lab||[]).push([[266],{646(e,r,t){var o=t(601),a=t.n(o),n=t(314),c=(t.n(n))()(a());c.push([e.id,`/* The "Check my work" side panel. */
.ag-panel {
  padding: 8px 12px;
  overflow-y: auto;
  font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1);
  background: var(--jp-layout-color1);
}
.ag-verdict { font-weight: bold; }
.ag-ready { color: var(--jp-success-color1); }
.ag-not-ready, .ag-problem { color: var(--jp-error-color1); }
.ag-heading { font-size: var(--jp-ui-font-size2); margin: 12px 0 4px; }
.ag-checks, .ag-errors, .ag-problems, .ag-knock-on { list-style: none; padding-left: 0; margin: 0; }
.ag-knock-on { padding-left: 12px; margin-top: 4px; color: var(--jp-ui-font-color2); }
.ag-check, .ag-error { margin: 4px 0; }
.ag-status {
  display: inline-block;
  margin-right: 6px;
  font-weight: bold;
}
.ag-passed .ag-status { color: var(--jp-success-color1); }
.ag-failed .ag-status { color: var(--jp-error-color1); }
.ag-not-attempted .ag-status, .ag-not-run .ag-status { color: var(--jp-warn-color1); }
.ag-panel a.ag-goto { color: var(--jp-content-link-color); text-decoration: underline; cursor: pointer; }
.ag-message { padding-left: 12px; white-space: pre-wrap; color: var(--jp-ui-font-color1); }
.ag-timing, .ag-notebook, .ag-hint, .ag-busy { color: var(--jp-ui-font-color2); }
`,""]),t.d(r,{},{A:c})},314(e){e.exports=function(e){var r=[];return r.toString=function(){return this.map(function(r){var t="",o=void 0!==r[5];return r[4]&&(t+="@supports (".concat(r[4],") {")),r[2]&&(t+="@media ".concat(r[2]," {")),o&&(t+="@layer".concat(r[5].length>0?" ".concat(r[5]):""," {")),t+=e(r),o&&(t+="}"),r[2]&&(t+="}"),r[4]&&(t+="}"),t}).join("")},r.i=function(e,t,o,a,n){"string"==typeof e&&(e=[[null,e,void 0]]);var c={};if(o)for(var i=0;i<this.length;i++){var s=this[i][0];null!=s&&(c[s]=!0)}for(var l=0;l<e.length;l++){var p=[].concat(e[l]);o&&c[p[0]]||(void 0!==n&&(void 0===p[5]||(p[1]="@layer".concat(p[5].length>0?" ".concat(p[5]):""," {").concat(p[1],"}")),p[5]=n),t&&(p[2]&&(p[1]="@media ".concat(p[2]," {").concat(p[1],"}")),p[2]=t),a&&(p[4]?(p[1]="@supports (".concat(p[4],") {").concat(p[1],"}"),p[4]=a):p[4]="".concat(a)),r.push(p))}},r}},601(e){e.exports=function(e){return e[1]}},665(e,r,t){t.r(r);var o=t(72),a=t.n(o),n=t(825),c=t.n(n),i=t(659),s=t.n(i),l=t(56),p=t.n(l),u=t(540),d=t.n(u),f=t(113),g=t.n(f),v=t(646),m={};m.styleTagTransform=g(),m.setAttributes=p(),m.insert=s().bind(null,"head"),m.domAPI=c(),m.insertStyleElement=d(),a()(v.A,m);let h=v.A&&v.A.locals?v.A.locals:void 0;t.d(r,{},{default:h})},72(e){var r=[];function t(e){for(var t=-1,o=0;o<r.length;o++)if(r[o].identifier===e){t=o;break}return t}function o(e,o){for(var a={},n=[],c=0;c<e.length;c++){var i=e[c],s=o.base?i[0]+o.base:i[0],l=a[s]||0,p="".concat(s," ").concat(l);a[s]=l+1;var u=t(p),d={css:i[1],media:i[2],sourceMap:i[3],supports:i[4],layer:i[5]};if(-1!==u)r[u].references++,r[u].updater(d);else{var f=function(e,r){var t=r.domAPI(r);return t.update(e),function(r){r?(r.css!==e.css||r.media!==e.media||r.sourceMap!==e.sourceMap||r.supports!==e.supports||r.layer!==e.layer)&&t.update(e=r):t.remove()}}(d,o);o.byIndex=c,r.splice(c,0,{identifier:p,updater:f,references:1})}n.push(p)}return n}e.exports=function(e,a){var n=o(e=e||[],a=a||{});return function(e){e=e||[];for(var c=0;c<n.length;c++){var i=t(n[c]);r[i].references--}for(var s=o(e,a),l=0;l<n.length;l++){var p=t(n[l]);0===r[p].references&&(r[p].updater(),r.splice(p,1))}n=s}}},659(e){var r={};e.exports=function(e,t){var o=function(e){if(void 0===r[e]){var t=document.querySelector(e);if(window.HTMLIFrameElement&&t instanceof window.HTMLIFrameElement)try{t=t.contentDocument.head}catch(e){t=null}r[e]=t}return r[e]}(e);if(!o)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");o.appendChild(t)}},540(e){e.exports=function(e){var r=document.createElement("style");return e.setAttributes(r,e.attributes),e.insert(r,e.options),r}},56(e,r,t){e.exports=function(e){var r=t.nc;r&&e.setAttribute("nonce",r)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var r=e.insertStyleElement(e);return{update:function(t){var o,a,n;o="",t.supports&&(o+="@supports (".concat(t.supports,") {")),t.media&&(o+="@media ".concat(t.media," {")),(a=void 0!==t.layer)&&(o+="@layer".concat(t.layer.length>0?" ".concat(t.layer):""," {")),o+=t.css,a&&(o+="}"),t.media&&(o+="}"),t.supports&&(o+="}"),(n=t.sourceMap)&&"u">typeof btoa&&(o+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(n))))," */")),e.styleTagTransform(o,r,e.options)},remove:function(){var e;null===(e=r).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,r){if(r.styleSheet)r.styleSheet.cssText=e;else{for(;r.firstChild;)r.removeChild(r.firstChild);r.appendChild(document.createTextNode(e))}}}}]);